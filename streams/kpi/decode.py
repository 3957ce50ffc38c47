"""Bytes in, a typed event or a `Rejection` out (the `invalid_json`, `unknown_type` and
`invalid_field` checks of DESIGN.md; time-dependent checks live in `admission`)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson

from streams.kpi.events import (
    AGENT_STATE,
    AGENT_STATES,
    CALL_ABANDONED,
    CALL_ANSWERED,
    CALL_OFFERED,
    CALL_WRAPUP,
    INVALID_FIELD,
    INVALID_JSON,
    LOGGED_OUT,
    UNKNOWN_TYPE,
    AgentStateEvent,
    CallEvent,
    Event,
    Rejection,
)

# Keys are joined with this separator in state mappings, so names may not contain it.
KEY_SEPARATOR = "\x1f"


class _Invalid(Exception):
    pass


def decode_event(raw: bytes | bytearray | memoryview | str) -> Event | Rejection:
    """Decode one message or JSONL line. Never raises."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return Rejection(INVALID_JSON, f"not JSON: {error}")
    if not isinstance(document, dict):
        return Rejection(INVALID_JSON, f"not a JSON object but a {type(document).__name__}")
    event_type = document.get("type")
    if not isinstance(event_type, str) or event_type not in _DECODERS:
        return Rejection(UNKNOWN_TYPE, f"unknown event type {event_type!r}")
    try:
        return _DECODERS[event_type](document)
    except _Invalid as error:
        return Rejection(INVALID_FIELD, str(error), event_type)


def parse_ts(value: Any) -> float:
    """An event time: ISO-8601 with an offset, or epoch seconds. Raises ValueError."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"'ts' {value!r} is not ISO-8601 or epoch seconds") from None
        if moment.tzinfo is None:
            raise ValueError(f"'ts' {value!r} has no UTC offset (add 'Z' or '+01:00')")
        return moment.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'ts' must be an ISO-8601 string or epoch seconds, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"'ts' must be finite epoch seconds, got {value!r}")
    return float(value)


def _text(document: dict, field: str) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value:
        if field not in document:
            raise _Invalid(f"field {field!r} is missing")
        raise _Invalid(f"field {field!r} must be a non-empty string, got {value!r}")
    if KEY_SEPARATOR in value:
        raise _Invalid(f"field {field!r} contains the control character U+001F")
    return value


def _seconds(document: dict, field: str, default: float | None = None) -> float:
    value = document.get(field, default)
    if value is None:
        raise _Invalid(f"field {field!r} is missing")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"field {field!r} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise _Invalid(f"field {field!r} must be a finite number >= 0, got {value!r}")
    return float(value)


def _common(document: dict) -> tuple[str, float]:
    event_id = _text(document, "event_id")
    if "ts" not in document:
        raise _Invalid("field 'ts' is missing")
    try:
        ts = parse_ts(document["ts"])
    except ValueError as error:
        raise _Invalid(str(error)) from None
    return event_id, ts


def _call(document: dict, wait: bool = False, agent: bool = False) -> CallEvent:
    event_id, ts = _common(document)
    return CallEvent(
        type=document["type"],
        event_id=event_id,
        ts=ts,
        call_id=_text(document, "call_id"),
        queue=_text(document, "queue"),
        agent_id=_text(document, "agent_id") if agent else "",
        wait_seconds=_seconds(document, "wait_seconds") if wait else 0.0,
    )


def _offered(document: dict) -> CallEvent:
    return _call(document)


def _answered(document: dict) -> CallEvent:
    return _call(document, wait=True, agent=True)


def _abandoned(document: dict) -> CallEvent:
    return _call(document, wait=True)


def _wrapup(document: dict) -> CallEvent:
    event_id, ts = _common(document)
    handle = (
        _seconds(document, "talk_seconds")
        + _seconds(document, "hold_seconds", 0.0)
        + _seconds(document, "acw_seconds")
    )
    return CallEvent(
        type=CALL_WRAPUP,
        event_id=event_id,
        ts=ts,
        call_id=_text(document, "call_id"),
        queue=_text(document, "queue"),
        agent_id=_text(document, "agent_id"),
        handle_seconds=handle,
    )


def _agent_state(document: dict) -> AgentStateEvent:
    event_id, ts = _common(document)
    agent_id = _text(document, "agent_id")
    state = document.get("state")
    if state not in AGENT_STATES:
        raise _Invalid(f"field 'state' must be one of {', '.join(AGENT_STATES)}, got {state!r}")
    queues = document.get("queues")
    if not isinstance(queues, list):
        raise _Invalid(f"field 'queues' must be a list of queue names, got {queues!r}")
    for queue in queues:
        if not isinstance(queue, str) or not queue or KEY_SEPARATOR in queue:
            raise _Invalid(f"field 'queues' holds {queue!r}, not a queue name")
    if not queues and state != LOGGED_OUT:
        raise _Invalid(f"field 'queues' is empty but state is {state!r} (only logged_out may)")
    team = _text(document, "team") if "team" in document else "default"
    reason = document.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _Invalid(f"field 'reason' must be a string, got {reason!r}")
    return AgentStateEvent(
        type=AGENT_STATE,
        event_id=event_id,
        ts=ts,
        agent_id=agent_id,
        state=state,
        queues=tuple(dict.fromkeys(queues)),
        team=team,
        reason=reason,
    )


_DECODERS = {
    CALL_OFFERED: _offered,
    CALL_ANSWERED: _answered,
    CALL_ABANDONED: _abandoned,
    CALL_WRAPUP: _wrapup,
    AGENT_STATE: _agent_state,
}
