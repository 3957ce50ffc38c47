"""Bytes in, a typed event or a `Rejection` out (the `invalid_json`, `unknown_type` and
`invalid_field` checks of DESIGN.md; time-dependent checks live in `admission`).

Two paths give the same result for every input. The fast one reads a message with msgspec into
the Structs of `wire` and accepts it only when every check below passes; anything else (msgspec
refuses it, or a check fails) is decoded again by the orjson path, `_decode_document`, which
alone decides and words every rejection. tests/unit/test_decode_fast_path.py pins the two
together."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import orjson
from mypy_extensions import i64

from streams.kpi import wire
from streams.kpi.events import (
    AGENT_STATE,
    AGENT_STATES,
    AVAILABLE,
    CALL_ABANDONED,
    CALL_ANSWERED,
    CALL_OFFERED,
    CALL_WRAPUP,
    EVENT_TYPES,
    INVALID_FIELD,
    INVALID_JSON,
    LOGGED_OUT,
    NOT_READY,
    ON_CALL,
    UNKNOWN_TYPE,
    WRAP_UP,
    AgentStateEvent,
    CallEvent,
    Event,
    Rejection,
)

# Keys are joined with this separator in state mappings, so names may not contain it.
KEY_SEPARATOR: Final = "\x1f"
# Ids and names become state keys and values (changelog records), Redis keys and Prometheus
# labels; an agent's queues become one state record. These bounds keep every state record far
# below Kafka's 1 MB message limit, which a record near it would exceed and stop the worker on
# every restart, while no ACD's ids or queue names come near them.
MAX_TEXT_CHARS: Final = 512
MAX_AGENT_QUEUES: Final = 512
# Durations are summed into window and day tallies: finite ones near the float limit (1e308)
# would add up to infinity, which no snapshot can report (staffing refuses it). No call part
# lasts 31 years.
MAX_SECONDS: Final = 1e9
# Event times must fit every date computation downstream (local days, intervals, as_of).
MAX_TS: Final = 32_503_680_000.0  # 3000-01-01T00:00:00Z
# Final, so the compiled module holds the function itself instead of looking up an attribute
# of the orjson module for every message.
_loads: Final = orjson.loads
_TYPE_NAMES: Final = ", ".join(EVENT_TYPES)
_read_message: Final = wire.DECODER.decode


class _Invalid(Exception):
    pass


def decode_event(raw: bytes | bytearray | memoryview | str) -> Event | Rejection:
    """Decode one message or JSONL line. Never raises."""
    if type(raw) is bytes:
        escaped = _BACKSLASH in raw  # an int: memchr (a bytes needle costs an exception here)
    elif type(raw) is str:
        escaped = "\\" in raw
    else:  # bytearray and memoryview take the orjson path only
        return _decode_document(raw)
    try:
        message = _read_message(raw)
    except Exception:  # msgspec.DecodeError (ValidationError too), UnicodeError
        return _decode_document(raw)
    event = _fast_event(message, escaped)
    if event is None:
        return _decode_document(raw)
    return event


def decode_batch(raws: list[Any]) -> list[Event | Rejection]:
    """decode_event of each message (what decode_event takes), in order. One compiled loop:
    cheaper than a Python-level loop calling decode_event once per message. A list, not any
    sequence: compiled, iterating a list is cheaper, and a list of bytes is not a
    list[bytes | str] to a type checker."""
    return [decode_event(raw) for raw in raws]


def _decode_document(raw: bytes | bytearray | memoryview | str) -> Event | Rejection:
    """The orjson path: decode and check one message, the reference for every outcome."""
    try:
        document = _loads(raw)
    except orjson.JSONDecodeError as error:
        return Rejection(INVALID_JSON, f"not JSON: {error}")
    if type(document) is not dict:
        return Rejection(INVALID_JSON, f"not a JSON object but a {type(document).__name__}")
    event_type = document.get("type")
    if type(event_type) is not str:
        # DESIGN and the issue list a missing or ill-typed field under invalid_field; only a
        # string naming no event type is an unknown type.
        if event_type is None and "type" not in document:
            return Rejection(INVALID_FIELD, f"field 'type' is missing: one of {_TYPE_NAMES}")
        return Rejection(
            INVALID_FIELD, f"field 'type' must be a string, not {type(event_type).__name__}"
        )
    try:
        event = _decode_typed(event_type, document)
    except _Invalid as error:
        return Rejection(INVALID_FIELD, str(error), event_type)
    if event is not None:
        return event
    return Rejection(UNKNOWN_TYPE, f"unknown event type {event_type!r}")


def _decode_typed(event_type: str, document: dict) -> Event | None:
    """The event of a known type, None for any other type. Direct calls, most frequent type
    first: cheaper than a table of decoder functions once compiled."""
    if event_type == AGENT_STATE:
        return _agent_state(document)
    if event_type == CALL_OFFERED:
        return _offered(document)
    if event_type == CALL_ANSWERED:
        return _answered(document)
    if event_type == CALL_WRAPUP:
        return _wrapup(document)
    if event_type == CALL_ABANDONED:
        return _abandoned(document)
    return None


def parse_ts(value: Any) -> float:
    """An event time: ISO-8601 with an offset, or epoch seconds. Raises ValueError."""
    kind = type(value)
    if kind is float or kind is int:
        if not 0 <= value < MAX_TS:
            raise ValueError(f"'ts' must be epoch seconds from 1970 to 2999, got {value!r}")
        return float(value)
    if kind is not str:
        raise ValueError(f"'ts' must be an ISO-8601 string or epoch seconds, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'ts' {value!r} is not ISO-8601 or epoch seconds") from None
    if moment.tzinfo is None:
        raise ValueError(f"'ts' {value!r} has no UTC offset (add 'Z' or '+01:00')")
    try:
        ts = moment.timestamp()
    except (OverflowError, ValueError):
        ts = -1.0
    if not 0 <= ts < MAX_TS:
        raise ValueError(f"'ts' {value!r} is outside 1970 to 2999")
    return ts


# The checks below run for every event, so they test exact types (a bool is not a number) and
# use one chained comparison for "finite and >= 0" (NaN fails it too).
def _text(document: dict, field: str) -> str:
    value = document.get(field)
    if type(value) is not str or not value or len(value) > MAX_TEXT_CHARS or KEY_SEPARATOR in value:
        if field not in document:
            raise _Invalid(f"field {field!r} is missing")
        if type(value) is str and len(value) > MAX_TEXT_CHARS:
            raise _Invalid(
                f"field {field!r} is {len(value):,} characters long (at most {MAX_TEXT_CHARS})"
            )
        if type(value) is str and value:
            raise _Invalid(f"field {field!r} contains the control character U+001F")
        raise _Invalid(f"field {field!r} must be a non-empty string, got {value!r}")
    return value


def _seconds(document: dict, field: str, default: float | None = None) -> float:
    value: Any = document.get(field, default)
    kind = type(value)
    if (kind is not float and kind is not int) or not 0 <= value < MAX_SECONDS:
        if value is None:
            raise _Invalid(f"field {field!r} is missing")
        if kind is not float and kind is not int:
            raise _Invalid(f"field {field!r} must be a number of seconds, got {value!r}")
        if value >= MAX_SECONDS:
            raise _Invalid(f"field {field!r} is {value!r} s, at most {MAX_SECONDS:.0e} allowed")
        raise _Invalid(f"field {field!r} must be a finite number >= 0, got {value!r}")
    return value


def _ts(document: dict) -> float:
    value = document.get("ts")
    if type(value) is float and 0 <= value < MAX_TS:  # epoch seconds, the common case
        return value
    if value is None and "ts" not in document:
        raise _Invalid("field 'ts' is missing")
    try:
        return parse_ts(value)
    except ValueError as error:
        raise _Invalid(str(error)) from None


def _offered(document: dict) -> CallEvent:
    return CallEvent(
        CALL_OFFERED,
        _text(document, "event_id"),
        _ts(document),
        _text(document, "call_id"),
        _text(document, "queue"),
    )


def _answered(document: dict) -> CallEvent:
    return CallEvent(
        CALL_ANSWERED,
        _text(document, "event_id"),
        _ts(document),
        _text(document, "call_id"),
        _text(document, "queue"),
        _text(document, "agent_id"),
        _seconds(document, "wait_seconds"),
    )


def _abandoned(document: dict) -> CallEvent:
    return CallEvent(
        CALL_ABANDONED,
        _text(document, "event_id"),
        _ts(document),
        _text(document, "call_id"),
        _text(document, "queue"),
        "",
        _seconds(document, "wait_seconds"),
    )


def _wrapup(document: dict) -> CallEvent:
    event_id = _text(document, "event_id")
    ts = _ts(document)
    handle = (
        _seconds(document, "talk_seconds")
        + _seconds(document, "hold_seconds", 0.0)
        + _seconds(document, "acw_seconds")
    )
    return CallEvent(
        CALL_WRAPUP,
        event_id,
        ts,
        _text(document, "call_id"),
        _text(document, "queue"),
        _text(document, "agent_id"),
        0.0,
        handle,
    )


def _state_constant(value: str) -> str | None:
    """The module's own string for an agent state, None for anything else. The engine then
    compares and looks up the same few string objects (hash cached, equal by identity) instead
    of a fresh string per event."""
    if value == AVAILABLE:
        return AVAILABLE
    if value == ON_CALL:
        return ON_CALL
    if value == WRAP_UP:
        return WRAP_UP
    if value == NOT_READY:
        return NOT_READY
    if value == LOGGED_OUT:
        return LOGGED_OUT
    return None


def _agent_state(document: dict) -> AgentStateEvent:
    event_id = _text(document, "event_id")
    ts = _ts(document)
    agent_id = _text(document, "agent_id")
    value = document.get("state")
    state = _state_constant(value) if type(value) is str else None
    if state is None:
        raise _Invalid(f"field 'state' must be one of {', '.join(AGENT_STATES)}, got {value!r}")
    queues = document.get("queues")
    if type(queues) is not list:
        raise _Invalid(f"field 'queues' must be a list of queue names, got {queues!r}")
    if len(queues) > MAX_AGENT_QUEUES:
        raise _Invalid(f"field 'queues' has {len(queues):,} entries (at most {MAX_AGENT_QUEUES})")
    # In order, without repeats: a list is cheaper than dict.fromkeys for a few names.
    unique: list[str] = []
    for queue in queues:
        if (
            type(queue) is not str
            or not queue
            or len(queue) > MAX_TEXT_CHARS
            or KEY_SEPARATOR in queue
        ):
            if type(queue) is str and len(queue) > MAX_TEXT_CHARS:
                raise _Invalid(
                    f"field 'queues' holds a name of {len(queue):,} characters "
                    f"(at most {MAX_TEXT_CHARS})"
                )
            raise _Invalid(f"field 'queues' holds {queue!r}, not a queue name")
        if queue not in unique:
            unique.append(queue)
    if not queues and state != LOGGED_OUT:
        raise _Invalid(f"field 'queues' is empty but state is {state!r} (only logged_out may)")
    team = _text(document, "team") if "team" in document else "default"
    reason = document.get("reason")
    if reason is not None and type(reason) is not str:
        raise _Invalid(f"field 'reason' must be a string, got {reason!r}")
    return AgentStateEvent(
        AGENT_STATE,
        event_id,
        ts,
        agent_id,
        state,
        tuple(unique),
        team,
        reason,
    )


# The fast path. Each check is the one of the orjson path above, so a message passes here only
# if it would pass there with the same values; it returns None (the orjson path decides) on the
# first that fails. msgspec hands over the fields as a tuple, in the order `wire` declares them:
# one call instead of an attribute look-up per field. The types are dispatched on by identity.
# `_text`'s length test of an id or a name (0 < len <= MAX_TEXT_CHARS) is written out at each
# use: compiled, a call per name cost more than the test; U+001F is left to `_separated`.
_fields_of: Final = wire.fields_of
# Any, not int: compiled, an int constant would be boxed again for every `in`.
_BACKSLASH: Final[Any] = ord("\\")
_AGENT_STATE_MESSAGE: Final = wire.AgentState
_OFFERED_MESSAGE: Final = wire.CallOffered
_ANSWERED_MESSAGE: Final = wire.CallAnswered
_WRAPUP_MESSAGE: Final = wire.CallWrapup
_ABANDONED_MESSAGE: Final = wire.CallAbandoned


def _separated(first: str, second: str, third: str) -> bool:
    """Whether any of the three holds U+001F. Only for a message with a backslash: JSON can
    carry U+001F in a string only as an escape (as a raw byte it is not JSON)."""
    return KEY_SEPARATOR in first or KEY_SEPARATOR in second or KEY_SEPARATOR in third


def _fast_ts(value: Any) -> float:
    """`_ts` of a valid time that is not a float, -1.0 for any other. A float, the common case,
    the callers take themselves and check with the other fields: one call less per event."""
    if type(value) is str:
        ts = _iso_ts(value)
        if ts >= 0.0:
            return ts
    try:
        return parse_ts(value)
    except ValueError:
        return -1.0


class _Midnight:
    """The date (its YYYY-MM-DD) of the last time `_iso_ts` read, and its midnight UTC in epoch
    seconds. One tuple, replaced whole: no reader pairs one date with another's midnight."""

    def __init__(self) -> None:
        self.last: tuple[str, int] = ("1970-01-01", 0)


_MIDNIGHT: Final = _Midnight()


def _two_digits(value: str, start: i64) -> i64:
    """The number value[start:start + 2] writes in two ASCII digits, -1 if either is not one."""
    tens: i64 = ord(value[start])
    ones: i64 = ord(value[start + 1])
    if not (48 <= tens <= 57 and 48 <= ones <= 57):  # ord("0") to ord("9")
        return -1
    return tens * 10 + ones - 528  # 11 * ord("0")


def _iso_ts(value: str) -> float:
    """parse_ts of a time in the usual form, YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 6
    digits, then Z or +HH:MM / -HH:MM; -1.0 for any other string, which parse_ts decides.

    fromisoformat and timestamp() cost about 5,000 instructions a time. Here they read only the
    date, once for a run of times on the same date (`_Midnight`); the rest is read by hand and
    taken only within the ranges fromisoformat accepts, and the sum is divided as timestamp()
    divides it, so the result is the same float.

    The numbers are i64: compiled, machine integers instead of tagged ones. None can overflow:
    midnight comes from parse_ts (0 to 2999, below 2**35 seconds), so the sum in microseconds
    stays below 2**56, and the fraction is read to its sixth digit at most."""
    size: i64 = len(value)
    if size < 20 or value[10] != "T" or value[13] != ":" or value[16] != ":":
        return -1.0
    hour = _two_digits(value, 11)
    minute = _two_digits(value, 14)
    second = _two_digits(value, 17)
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
        return -1.0
    microsecond: i64 = 0
    end: i64 = 19  # of the time: the offset follows
    if value[19] == ".":
        end = 20
        while end < size:
            code: i64 = ord(value[end])
            if not 48 <= code <= 57:  # ord("0") to ord("9")
                break
            if end < 26:  # fromisoformat ignores digits past the sixth: left to it below
                microsecond = microsecond * 10 + code - 48
            end += 1
        places = end - 20
        if not 1 <= places <= 6:
            return -1.0
        while places < 6:
            microsecond *= 10
            places += 1
    offset: i64 = 0
    if end == size - 1 and value[end] == "Z":
        offset = 0
    elif end == size - 6 and value[end + 3] == ":":
        hours = _two_digits(value, end + 1)
        minutes = _two_digits(value, end + 4)
        if not (0 <= hours <= 23 and 0 <= minutes <= 59):
            return -1.0
        offset = hours * 3600 + minutes * 60
        if value[end] == "-":
            offset = -offset
        elif value[end] != "+":
            return -1.0
    else:
        return -1.0
    date, midnight = _MIDNIGHT.last
    if not value.startswith(date):
        date = value[:10]
        try:  # the date as fromisoformat reads it, and checks it (a 30 February, a year 0)
            midnight = int(parse_ts(date + "T00:00:00Z"))
        except ValueError:
            return -1.0
        _MIDNIGHT.last = (date, midnight)
    seconds: i64 = midnight
    microseconds = (seconds + hour * 3600 + minute * 60 + second - offset) * 1_000_000
    microseconds += microsecond
    # timestamp() divides the whole number of microseconds by 10**6, rounding once. Below 2**53
    # both are exact doubles, so the compiled module's double division rounds the same; from
    # there (the year 2255 on) parse_ts decides.
    if not 0 <= microseconds < 2**53:
        return -1.0
    return microseconds / 1_000_000


def _fast_seconds(value: Any) -> float:
    """`_seconds` of a valid number of seconds (msgspec gives an int or a float), -1.0 for any
    other. The value is returned as `_seconds` returns it, so the compiled module turns an int
    into a float at the same point in both paths."""
    if type(value) is float:
        seconds: float = value
        if 0.0 <= seconds < MAX_SECONDS:
            return seconds
        return -1.0
    if type(value) is int:
        whole: int = value
        if 0 <= whole < MAX_SECONDS:
            return value
    return -1.0


def _fast_event(message: wire.Message, escaped: bool) -> Event | None:
    kind = type(message)
    fields = _fields_of(message)
    if kind is _AGENT_STATE_MESSAGE:
        return _fast_agent_state(fields, escaped)
    if kind is _OFFERED_MESSAGE:
        return _fast_call(CALL_OFFERED, fields, escaped, "", 0.0)
    if kind is _ANSWERED_MESSAGE:
        wait = _fast_seconds(fields[5])
        return _fast_call(CALL_ANSWERED, fields, escaped, fields[4], wait)
    if kind is _WRAPUP_MESSAGE:
        return _fast_wrapup(fields, escaped)
    if kind is _ABANDONED_MESSAGE:
        return _fast_call(CALL_ABANDONED, fields, escaped, "", _fast_seconds(fields[4]))
    return None


def _fast_call(
    event_type: str, fields: tuple[Any, ...], escaped: bool, agent_id: str, wait: float
) -> CallEvent | None:
    """call.offered, call.answered or call.abandoned: event_id, ts, call_id, queue first."""
    event_id: str = fields[0]
    value: Any = fields[1]
    ts: float = value if type(value) is float else _fast_ts(value)
    call_id: str = fields[2]
    queue: str = fields[3]
    if (
        not 0.0 <= ts < MAX_TS
        or wait < 0
        or not 0 < len(event_id) <= MAX_TEXT_CHARS
        or not 0 < len(call_id) <= MAX_TEXT_CHARS
        or not 0 < len(queue) <= MAX_TEXT_CHARS
    ):
        return None
    if event_type == CALL_ANSWERED and not 0 < len(agent_id) <= MAX_TEXT_CHARS:
        return None
    if escaped and (_separated(event_id, call_id, queue) or KEY_SEPARATOR in agent_id):
        return None
    return CallEvent(event_type, event_id, ts, call_id, queue, agent_id, wait)


def _fast_wrapup(fields: tuple[Any, ...], escaped: bool) -> CallEvent | None:
    event_id: str = fields[0]
    value: Any = fields[1]
    ts: float = value if type(value) is float else _fast_ts(value)
    call_id: str = fields[2]
    queue: str = fields[3]
    agent_id: str = fields[4]
    talk = _fast_seconds(fields[5])
    acw = _fast_seconds(fields[6])
    hold = _fast_seconds(fields[7])
    if (
        not 0.0 <= ts < MAX_TS
        or talk < 0
        or hold < 0
        or acw < 0
        or not 0 < len(event_id) <= MAX_TEXT_CHARS
        or not 0 < len(call_id) <= MAX_TEXT_CHARS
        or not 0 < len(queue) <= MAX_TEXT_CHARS
        or not 0 < len(agent_id) <= MAX_TEXT_CHARS
    ):
        return None
    if escaped and (_separated(event_id, call_id, queue) or KEY_SEPARATOR in agent_id):
        return None
    # The same sum in the same order as `_wrapup`.
    handle = talk + hold + acw
    return CallEvent(CALL_WRAPUP, event_id, ts, call_id, queue, agent_id, 0.0, handle)


def _fast_agent_state(fields: tuple[Any, ...], escaped: bool) -> AgentStateEvent | None:
    event_id: str = fields[0]
    value: Any = fields[1]
    ts: float = value if type(value) is float else _fast_ts(value)
    agent_id: str = fields[2]
    state: str = fields[3]  # already one of the module's constants (`wire` reads a Literal)
    queues: list[str] = fields[4]
    team: str = fields[5]
    reason: str | None = fields[6]
    count = len(queues)
    if (
        not 0.0 <= ts < MAX_TS
        or count > MAX_AGENT_QUEUES
        or (count == 0 and state != LOGGED_OUT)
        or not 0 < len(event_id) <= MAX_TEXT_CHARS
        or not 0 < len(agent_id) <= MAX_TEXT_CHARS
        or not 0 < len(team) <= MAX_TEXT_CHARS
        or (escaped and _separated(event_id, agent_id, team))
    ):
        return None
    # One pass checks each name and compares it with the names before it. Unless a name repeats
    # (rare), the message's own list becomes the event's tuple: no list of distinct names built
    # with an `in` and an append per name.
    repeated = False
    for index in range(count):
        queue = queues[index]
        if not 0 < len(queue) <= MAX_TEXT_CHARS or (escaped and KEY_SEPARATOR in queue):
            return None
        for earlier in range(index):
            if queues[earlier] == queue:
                repeated = True
    if repeated:
        unique: list[str] = []
        for queue in queues:
            if queue not in unique:
                unique.append(queue)
        queues = unique
    return AgentStateEvent(AGENT_STATE, event_id, ts, agent_id, state, tuple(queues), team, reason)
