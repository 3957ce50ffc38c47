"""Typed canonical events (DESIGN.md, "Events"). Times are epoch seconds (float)."""

from __future__ import annotations

from typing import ClassVar, Final

from mypy_extensions import mypyc_attr  # a no-op when the sources run uncompiled

CALL_OFFERED: Final = "call.offered"
CALL_ANSWERED: Final = "call.answered"
CALL_ABANDONED: Final = "call.abandoned"
CALL_WRAPUP: Final = "call.wrapup"
AGENT_STATE: Final = "agent.state"
EVENT_TYPES: Final = (CALL_OFFERED, CALL_ANSWERED, CALL_ABANDONED, CALL_WRAPUP, AGENT_STATE)

LOGGED_OUT: Final = "logged_out"
AVAILABLE: Final = "available"
ON_CALL: Final = "on_call"
WRAP_UP: Final = "wrap_up"
NOT_READY: Final = "not_ready"
AGENT_STATES: Final = (LOGGED_OUT, AVAILABLE, ON_CALL, WRAP_UP, NOT_READY)

# Rejection reasons, exactly as DESIGN.md names them.
INVALID_JSON: Final = "invalid_json"
UNKNOWN_TYPE: Final = "unknown_type"
INVALID_FIELD: Final = "invalid_field"
FUTURE: Final = "future"
LATE: Final = "late"
OUT_OF_ORDER: Final = "out_of_order"
REJECTION_REASONS: Final = (INVALID_JSON, UNKNOWN_TYPE, INVALID_FIELD, FUTURE, LATE, OUT_OF_ORDER)
# Not an input problem and not one of DESIGN's reasons: processing the event raised (an engine
# or storage fault). The event is rejected with this reason rather than dropped, so it reaches
# the dead-letter topic with its bytes and is counted, and the rest of its batch still applies.
INTERNAL_ERROR: Final = "internal_error"


# acyclic: an event holds only strings, numbers, None and a tuple of strings, so it can never
# be part of a reference cycle. Compiled, such a class is not tracked by the garbage collector:
# cheaper to create and to free, and a batch of events does not count towards a collection.
# Each class says so itself: mypyc does not inherit the attribute.
@mypyc_attr(acyclic=True)
class _Record:
    """Value semantics for the event classes below. They spell out __init__ instead of being
    dataclasses because mypyc compiles an explicit __init__ but leaves a dataclass's generated
    one interpreted, and constructing events is a good part of decoding."""

    fields: ClassVar[tuple[str, ...]] = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.fields
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.fields)
        return f"{type(self).__name__}({fields})"


@mypyc_attr(acyclic=True)
class CallEvent(_Record):
    """Any call.* event; the fields a type does not carry stay at 0 / empty."""

    fields = (
        "type",
        "event_id",
        "ts",
        "call_id",
        "queue",
        "agent_id",
        "wait_seconds",
        "handle_seconds",
    )

    def __init__(
        self,
        type: str,
        event_id: str,
        ts: float,
        call_id: str,
        queue: str,
        agent_id: str = "",
        wait_seconds: float = 0.0,
        handle_seconds: float = 0.0,  # talk + hold + after-call work, for call.wrapup
    ) -> None:
        self.type = type
        self.event_id = event_id
        self.ts = ts
        self.call_id = call_id
        self.queue = queue
        self.agent_id = agent_id
        self.wait_seconds = wait_seconds
        self.handle_seconds = handle_seconds


@mypyc_attr(acyclic=True)
class AgentStateEvent(_Record):
    fields = ("type", "event_id", "ts", "agent_id", "state", "queues", "team", "reason")

    def __init__(
        self,
        type: str,
        event_id: str,
        ts: float,
        agent_id: str,
        state: str,
        queues: tuple[str, ...],
        team: str = "default",
        reason: str | None = None,
    ) -> None:
        self.type = type
        self.event_id = event_id
        self.ts = ts
        self.agent_id = agent_id
        self.state = state
        self.queues = queues
        self.team = team
        self.reason = reason


@mypyc_attr(acyclic=True)
class Rejection(_Record):
    """Input that cannot be accepted: `reason` is machine-readable, `detail` is for people."""

    fields = ("reason", "detail", "event_type")

    def __init__(self, reason: str, detail: str, event_type: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.event_type = event_type


Event = CallEvent | AgentStateEvent
