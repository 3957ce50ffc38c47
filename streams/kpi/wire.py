"""The five event types as msgspec Structs: the schema of `decode`'s fast path for valid events.

This module is not compiled (it is not in `COMPILED_MODULES`): mypyc does not support classes
with a foreign metaclass such as msgspec's Struct. `decode` (compiled) calls `DECODER.decode`
and reads the fields; it still checks every value the way its orjson path does (but `state`,
which only the five agent states pass here), and anything this schema refuses or `decode` does
not accept goes through that orjson path, which alone words rejections. So the schema only has
to refuse whatever msgspec would read differently from orjson:

- unknown fields (`forbid_unknown_fields`): msgspec skips them without looking inside (a number
  beyond a double or invalid UTF-8 in one passes here, while orjson rejects the document);
- integers outside 0 .. 2**63 - 1: msgspec keeps any integer exactly, orjson turns those beyond
  64 bits into floats and rejects those beyond a double; a negative one is rejected anyway.

The value of a repeated key is the last one in both; a repeated `type` with another value, null
where a value belongs, booleans for numbers, and anything that is not JSON, not UTF-8 or not an
object fail here and take the orjson path.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec
import msgspec.structs

Integer = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Seconds = Integer | float
Timestamp = Integer | float | str
# The agent states of `events`: msgspec hands over the very string objects named here, and these
# literals, `events`' constants and the compiled modules' constants are all interned, so a state
# arrives as the module's own string (the engine compares states by identity) without a look-up.
AgentStateName = Literal["logged_out", "available", "on_call", "wrap_up", "not_ready"]


# gc=False: these hold only strings, numbers and a list of strings, so never a reference cycle,
# and a decoded message lives only until `decode` has built its event.
class _Message(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, gc=False):
    event_id: str
    ts: Timestamp


class _CallMessage(_Message):
    call_id: str
    queue: str


class CallOffered(_CallMessage, tag="call.offered"):
    pass


class CallAnswered(_CallMessage, tag="call.answered"):
    agent_id: str
    wait_seconds: Seconds


class CallAbandoned(_CallMessage, tag="call.abandoned"):
    wait_seconds: Seconds


class CallWrapup(_CallMessage, tag="call.wrapup"):
    agent_id: str
    talk_seconds: Seconds
    acw_seconds: Seconds
    hold_seconds: Seconds = 0.0


class AgentState(_Message, tag="agent.state"):
    agent_id: str
    state: AgentStateName
    queues: list[str]
    team: str = "default"
    reason: str | None = None


Message = AgentState | CallOffered | CallAnswered | CallWrapup | CallAbandoned
DECODER: Final = msgspec.json.Decoder(Message)
# A message's fields as a tuple, in the order declared above (the tag `type` is not one).
fields_of: Final = msgspec.structs.astuple
