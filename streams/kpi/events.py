"""Typed canonical events (DESIGN.md, "Events"). Times are epoch seconds (float)."""

from __future__ import annotations

from dataclasses import dataclass

CALL_OFFERED = "call.offered"
CALL_ANSWERED = "call.answered"
CALL_ABANDONED = "call.abandoned"
CALL_WRAPUP = "call.wrapup"
AGENT_STATE = "agent.state"
EVENT_TYPES = (CALL_OFFERED, CALL_ANSWERED, CALL_ABANDONED, CALL_WRAPUP, AGENT_STATE)

LOGGED_OUT = "logged_out"
AVAILABLE = "available"
ON_CALL = "on_call"
WRAP_UP = "wrap_up"
NOT_READY = "not_ready"
AGENT_STATES = (LOGGED_OUT, AVAILABLE, ON_CALL, WRAP_UP, NOT_READY)

# Rejection reasons, exactly as DESIGN.md names them.
INVALID_JSON = "invalid_json"
UNKNOWN_TYPE = "unknown_type"
INVALID_FIELD = "invalid_field"
FUTURE = "future"
LATE = "late"
OUT_OF_ORDER = "out_of_order"
REJECTION_REASONS = (INVALID_JSON, UNKNOWN_TYPE, INVALID_FIELD, FUTURE, LATE, OUT_OF_ORDER)


@dataclass(slots=True)
class CallEvent:
    """Any call.* event; the fields a type does not carry stay at 0 / empty."""

    type: str
    event_id: str
    ts: float
    call_id: str
    queue: str
    agent_id: str = ""
    wait_seconds: float = 0.0
    handle_seconds: float = 0.0  # talk + hold + after-call work, for call.wrapup


@dataclass(slots=True)
class AgentStateEvent:
    type: str
    event_id: str
    ts: float
    agent_id: str
    state: str
    queues: tuple[str, ...]
    team: str = "default"
    reason: str | None = None


@dataclass(slots=True)
class Rejection:
    """Input that cannot be accepted: `reason` is machine-readable, `detail` is for people."""

    reason: str
    detail: str
    event_type: str | None = None


Event = CallEvent | AgentStateEvent
