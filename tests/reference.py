"""Brute-force reference for the KPI engine, written from DESIGN.md alone.

Deliberately slow and obvious: parse every line with our own validation, apply the admission
rules line by line, keep the plain list of accepted events, then compute the snapshot at
`as_of` by filtering and summing those raw events. No buckets, no incremental state, nothing
shared with `streams.kpi`. Property tests compare the engine with this module.

Replay-mode contract (DESIGN.md plus the lead's clarifications):
- "now" = the highest ts among events accepted before the current line; no `future` check.
- order: decode/validate -> duplicate (id already accepted and its original ts >= now - L)
  -> late (ts < now - L) -> out_of_order (agent.state older than that agent's latest).
- `at`: lines whose (valid) ts >= at are ignored; as_of = at, else the first multiple of
  bucket_seconds strictly above the highest accepted ts.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.config import Settings

CALL_TYPES = ("call.offered", "call.answered", "call.abandoned", "call.wrapup")
EVENT_TYPES = (*CALL_TYPES, "agent.state")
AGENT_STATES = ("logged_out", "available", "on_call", "wrap_up", "not_ready")
# Longest id or name, most queues in one agent.state (docs/contract-notes.md).
MAX_TEXT_CHARS = 512
MAX_AGENT_QUEUES = 512
BUSY_STATES = ("on_call", "wrap_up")
IDLE_STATES = ("available",)
# DESIGN.md "Events": the fields each type must carry (hold_seconds, team and reason are optional).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "call.offered": ("event_id", "ts", "call_id", "queue"),
    "call.answered": ("event_id", "ts", "call_id", "queue", "agent_id", "wait_seconds"),
    "call.abandoned": ("event_id", "ts", "call_id", "queue", "wait_seconds"),
    "call.wrapup": (
        "event_id",
        "ts",
        "call_id",
        "queue",
        "agent_id",
        "talk_seconds",
        "acw_seconds",
    ),
    "agent.state": ("event_id", "ts", "agent_id", "state", "queues"),
}

COUNT_FIELDS = (
    "offered",
    "answered",
    "answered_within_threshold",
    "abandoned",
    "short_abandoned",
    "abandoned_within_threshold",
    "handled",
)
KPI_FIELDS = ("service_level", "asa_seconds", "abandon_rate", "aht_seconds", "occupancy")
WINDOW_FIELDS = COUNT_FIELDS + KPI_FIELDS
AGENT_COUNT_FIELDS = ("staffed", "available", "on_call", "wrap_up", "not_ready")


class Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Event:
    line_no: int
    type: str
    event_id: str
    ts: float
    body: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)


# --- decoding -------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    # NaN / Infinity / -Infinity are not JSON (RFC 8259) although Python's json accepts them.
    raise ValueError(f"{name} is not JSON")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string(body: dict[str, Any], key: str) -> str:
    if key not in body:
        raise Rejected("invalid_field", f"field {key!r} missing")
    value = body[key]
    if not isinstance(value, str) or value == "":
        raise Rejected("invalid_field", f"field {key!r} must be a non-empty string")
    if len(value) > MAX_TEXT_CHARS:
        raise Rejected("invalid_field", f"field {key!r} is longer than {MAX_TEXT_CHARS}")
    return value


def _amount(body: dict[str, Any], key: str, default: float | None = None) -> float:
    if key not in body:
        if default is not None:
            return default
        raise Rejected("invalid_field", f"field {key!r} missing")
    value = body[key]
    if not _is_number(value):
        raise Rejected("invalid_field", f"field {key!r} must be a number")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise Rejected("invalid_field", f"field {key!r} must be a finite number >= 0")
    if value >= 1e9:  # contract-notes: durations below 1e9 s, so that sums stay finite
        raise Rejected("invalid_field", f"field {key!r} must be below 1e9 s")
    return value


def parse_ts(value: Any) -> float:
    """Epoch seconds from an epoch number or an ISO-8601 string with an offset."""
    if _is_number(value):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise Rejected("invalid_field", "field 'ts' must be a finite epoch >= 0")
        return number
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise Rejected("invalid_field", f"field 'ts' {value!r} is not ISO-8601") from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise Rejected("invalid_field", f"field 'ts' {value!r} has no UTC offset")
        return moment.timestamp()
    raise Rejected("invalid_field", "field 'ts' must be a string or a number")


def decode(raw: bytes | str, line_no: int = 0) -> Event:
    """One raw line -> Event, or raise Rejected(reason)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        body = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise Rejected("invalid_json", "not JSON") from None
    if not isinstance(body, dict):
        raise Rejected("invalid_json", "not a JSON object")
    if "type" not in body or not isinstance(body["type"], str):
        raise Rejected("invalid_field", "field 'type' missing or not a string")
    kind = body["type"]
    if kind not in EVENT_TYPES:
        raise Rejected("unknown_type", f"type {kind!r}")
    event_id = _string(body, "event_id")
    if "ts" not in body:
        raise Rejected("invalid_field", "field 'ts' missing")
    ts = parse_ts(body["ts"])
    clean: dict[str, Any] = {}
    if kind in CALL_TYPES:
        clean["call_id"] = _string(body, "call_id")
        clean["queue"] = _string(body, "queue")
    if kind in ("call.answered", "call.wrapup", "agent.state"):
        clean["agent_id"] = _string(body, "agent_id")
    if kind in ("call.answered", "call.abandoned"):
        clean["wait_seconds"] = _amount(body, "wait_seconds")
    if kind == "call.wrapup":
        clean["talk_seconds"] = _amount(body, "talk_seconds")
        clean["hold_seconds"] = _amount(body, "hold_seconds", default=0.0)
        clean["acw_seconds"] = _amount(body, "acw_seconds")
    if kind == "agent.state":
        state = _string(body, "state")
        if state not in AGENT_STATES:
            raise Rejected("invalid_field", f"unknown state {state!r}")
        queues = body.get("queues")
        if not isinstance(queues, list) or not all(
            isinstance(queue, str) and queue and len(queue) <= MAX_TEXT_CHARS for queue in queues
        ):
            raise Rejected("invalid_field", "field 'queues' must be a list of queue names")
        if len(queues) > MAX_AGENT_QUEUES:
            raise Rejected("invalid_field", f"field 'queues' has more than {MAX_AGENT_QUEUES}")
        if not queues and state != "logged_out":
            raise Rejected("invalid_field", "field 'queues' is empty")
        if body.get("reason") is not None and not isinstance(body["reason"], str):
            raise Rejected("invalid_field", "field 'reason' must be a string")
        clean["state"] = state
        clean["queues"] = tuple(queues)
        clean["team"] = _string(body, "team") if "team" in body else "default"
    return Event(line_no=line_no, type=kind, event_id=event_id, ts=ts, body=clean)


# --- admission ------------------------------------------------------------------------------


@dataclass
class Admission:
    accepted: list[Event] = field(default_factory=list)
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_lines: dict[str, list[int]] = field(default_factory=dict)
    ignored_after_at: int = 0
    outcomes: list[tuple[str, str | None]] = field(default_factory=list)  # per fed line


def admit(lines: Iterable[bytes | str], settings: Settings, at: float | None) -> Admission:
    result = Admission()
    lateness = settings.allowed_lateness_seconds

    def reject(line_no: int, reason: str) -> None:
        result.rejected[reason] += 1
        result.rejected_lines.setdefault(reason, []).append(line_no)
        result.outcomes.append(("rejected", reason))

    for line_no, raw in enumerate(lines, start=1):
        try:
            event = decode(raw, line_no)
        except Rejected as error:
            reject(line_no, error.reason)
            continue
        if at is not None and event.ts >= at:
            result.ignored_after_at += 1
            continue
        accepted = result.accepted
        now = max((e.ts for e in accepted), default=None)
        if now is not None:
            # The id is remembered only while its first accepted event is within the horizon.
            if any(e.event_id == event.event_id and e.ts >= now - lateness for e in accepted):
                result.duplicates += 1
                result.outcomes.append(("duplicate", None))
                continue
            if event.ts < now - lateness:
                reject(line_no, "late")
                continue
        if event.type == "agent.state":
            latest = max(
                (
                    e.ts
                    for e in accepted
                    if e.type == "agent.state" and e.get("agent_id") == event.get("agent_id")
                ),
                default=None,
            )
            if latest is not None and event.ts < latest:
                reject(line_no, "out_of_order")
                continue
        accepted.append(event)
        result.outcomes.append(("accepted", None))
    return result


# --- windows --------------------------------------------------------------------------------


def default_as_of(accepted: list[Event], settings: Settings) -> float:
    newest = max(e.ts for e in accepted)
    step = settings.bucket_seconds
    return (math.floor(newest / step) + 1) * step


def interval_start(as_of: float, settings: Settings) -> float:
    """The latest instant at or before `as_of` at which the local clock shows a multiple of
    `interval_minutes` since midnight, or jumps forward past one: the clock read minute by
    minute backwards (every zone in use changes its offset on whole minutes)."""
    step = settings.interval_minutes * 60

    def shown(moment: int) -> int:
        offset = datetime.fromtimestamp(moment, settings.zone).utcoffset()
        assert offset is not None
        return moment + int(offset.total_seconds())

    moment = math.floor(as_of / 60) * 60
    while True:
        now, minute_before = shown(moment), shown(moment - 60)
        if now % step == 0:
            return moment
        if now - minute_before > 60 and (minute_before // step + 1) * step <= now:
            return moment  # the clock jumped past a boundary
        moment -= 60


def today_start(as_of: float, settings: Settings) -> float:
    local = datetime.fromtimestamp(as_of, settings.zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=settings.zone)
    return midnight.timestamp()


def window_starts(as_of: float, settings: Settings) -> dict[str, float]:
    # DESIGN: exact `as_of - W` when as_of is a bucket boundary; otherwise (lead's note) the
    # window starts at the first bucket boundary at or after `as_of - W`.
    step = settings.bucket_seconds
    starts = {
        name: math.ceil((as_of - seconds) / step) * step
        for name, seconds in settings.window_seconds.items()
    }
    starts["interval"] = interval_start(as_of, settings)
    starts["today"] = today_start(as_of, settings)
    return starts


# --- snapshot -------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else float(numerator) / float(denominator)


@dataclass(frozen=True)
class StateSpan:
    agent_id: str
    state: str
    queues: tuple[str, ...]
    team: str
    start: float
    end: float


def state_spans(accepted: list[Event], as_of: float) -> list[StateSpan]:
    """Each accepted agent.state lasts until that agent's next accepted one, or as_of."""
    by_agent: dict[str, list[Event]] = {}
    for event in accepted:
        if event.type == "agent.state":
            by_agent.setdefault(event.get("agent_id"), []).append(event)
    spans = []
    for agent_id, states in by_agent.items():
        for index, event in enumerate(states):
            end = states[index + 1].ts if index + 1 < len(states) else as_of
            spans.append(
                StateSpan(
                    agent_id,
                    event.get("state"),
                    event.get("queues"),
                    event.get("team"),
                    event.ts,
                    min(end, as_of),
                )
            )
    return spans


def occupancy(spans: Iterable[StateSpan], start: float, as_of: float) -> float | None:
    busy = idle = 0.0
    for span in spans:
        overlap = min(span.end, as_of) - max(span.start, start)
        if overlap <= 0:
            continue
        if span.state in BUSY_STATES:
            busy += overlap
        elif span.state in IDLE_STATES:
            idle += overlap
    return _ratio(busy, busy + idle)


def queue_window(
    events: list[Event],
    spans: list[StateSpan],
    queue: str,
    settings: Settings,
    start: float,
    as_of: float,
) -> dict[str, Any]:
    rules = settings.for_queue(queue)
    threshold = rules.service_level_threshold_seconds
    inside = [e for e in events if e.get("queue") == queue and start <= e.ts < as_of]
    answered = [e for e in inside if e.type == "call.answered"]
    abandoned = [e for e in inside if e.type == "call.abandoned"]
    handled = [e for e in inside if e.type == "call.wrapup"]
    counts = {
        "offered": sum(1 for e in inside if e.type == "call.offered"),
        "answered": len(answered),
        "answered_within_threshold": sum(1 for e in answered if e.get("wait_seconds") <= threshold),
        "abandoned": len(abandoned),
        "short_abandoned": sum(
            1 for e in abandoned if e.get("wait_seconds") < rules.short_abandon_seconds
        ),
        "abandoned_within_threshold": sum(
            1 for e in abandoned if e.get("wait_seconds") <= threshold
        ),
        "handled": len(handled),
    }
    n_ans, n_ab, n_short = counts["answered"], counts["abandoned"], counts["short_abandoned"]
    within = counts["answered_within_threshold"]
    formula = rules.service_level_formula
    if formula == "offered":
        service_level = _ratio(within, n_ans + n_ab - n_short)
    elif formula == "answered":
        service_level = _ratio(within, n_ans)
    else:
        service_level = _ratio(within + counts["abandoned_within_threshold"], n_ans + n_ab)
    talk = sum(
        e.get("talk_seconds") + e.get("hold_seconds") + e.get("acw_seconds") for e in handled
    )
    return {
        **counts,
        "service_level": service_level,
        "asa_seconds": _ratio(sum(e.get("wait_seconds") for e in answered), n_ans),
        "abandon_rate": _ratio(n_ab - n_short, n_ans + n_ab - n_short),
        "aht_seconds": _ratio(talk, len(handled)),
        "occupancy": occupancy((s for s in spans if queue in s.queues), start, as_of),
    }


def waiting_legs(events: list[Event], queue: str, settings: Settings, as_of: float) -> list[float]:
    """Offer times of legs in `queue` still waiting at as_of (not answered/abandoned/stale)."""
    resolved = {
        e.get("call_id")
        for e in events
        if e.get("queue") == queue
        and e.type in ("call.answered", "call.abandoned")
        and e.ts < as_of
    }
    # A leg is (queue, call_id): offered twice, it waits once, since its first offer.
    offered: dict[str, float] = {}
    for e in events:
        if e.type == "call.offered" and e.get("queue") == queue and e.ts < as_of:
            offered[e.get("call_id")] = min(e.ts, offered.get(e.get("call_id"), math.inf))
    return [
        ts
        for call_id, ts in offered.items()
        if call_id not in resolved and as_of - ts <= settings.max_wait_seconds
    ]


def agents_in_queue(events: list[Event], queue: str, as_of: float) -> dict[str, int]:
    latest: dict[str, Event] = {}
    for event in events:
        if event.type == "agent.state" and event.ts < as_of:
            latest[event.get("agent_id")] = event  # accepted order; equal ts: later line wins
    counts = dict.fromkeys(AGENT_COUNT_FIELDS, 0)
    for event in latest.values():
        if queue not in event.get("queues"):
            continue
        state = event.get("state")
        if state != "logged_out":
            counts["staffed"] += 1
            counts[state] += 1
    return counts


def snapshot(
    accepted: list[Event], settings: Settings, as_of: float, admission: Admission
) -> dict[str, Any]:
    starts = window_starts(as_of, settings)
    spans = state_spans(accepted, as_of)
    queues: set[str] = set()
    teams: set[str] = set()
    for event in accepted:
        if event.type == "agent.state":
            queues.update(event.get("queues"))
            teams.add(event.get("team"))
        else:
            queues.add(event.get("queue"))
    queue_docs = {}
    for queue in sorted(queues):
        waits = waiting_legs(accepted, queue, settings, as_of)
        queue_docs[queue] = {
            "calls_waiting": len(waits),
            "oldest_waiting_seconds": float(as_of - min(waits)) if waits else None,
            "agents": agents_in_queue(accepted, queue, as_of),
            "windows": {
                name: queue_window(accepted, spans, queue, settings, start, as_of)
                for name, start in starts.items()
            },
        }
    team_docs = {
        team: {
            "windows": {
                name: {"occupancy": occupancy((s for s in spans if s.team == team), start, as_of)}
                for name, start in starts.items()
            }
        }
        for team in sorted(teams)
    }
    return {
        "as_of": datetime.fromtimestamp(as_of, UTC).isoformat(),
        "queues": queue_docs,
        "teams": team_docs,
        "events": {
            "accepted": len(accepted),
            "duplicates": admission.duplicates,
            "rejected": {reason: n for reason, n in admission.rejected.items() if n},
        },
    }


def replay(
    lines: Iterable[bytes | str], settings: Settings, at: float | None = None
) -> tuple[dict[str, Any], Admission]:
    admission = admit(list(lines), settings, at)
    as_of = at if at is not None else default_as_of(admission.accepted, settings)
    return snapshot(admission.accepted, settings, as_of, admission), admission


# --- comparison -----------------------------------------------------------------------------


def differences(expected: Any, actual: Any, path: str = "$", tolerance: float = 1e-6) -> list[str]:
    """Where `actual` departs from `expected`: floats to `tolerance`, ints and None exactly.

    Only keys present in `expected` are compared (the engine may add e.g. `staffing`), except
    that mapping key *sets* of queues/teams/windows must match exactly.
    """
    problems: list[str] = []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        if path.endswith(".windows"):  # configured windows, then interval, then today
            if list(actual) != list(expected):
                problems.append(f"{path}: keys {list(actual)} != expected {list(expected)}")
        elif (path.endswith((".queues", ".teams", ".rejected")) or path == "$.events") and set(
            expected
        ) != set(actual):
            problems.append(f"{path}: keys {sorted(actual)} != expected {sorted(expected)}")
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems.extend(differences(value, actual[key], f"{path}.{key}", tolerance))
        return problems
    if expected is None or isinstance(expected, str | bool):
        if actual != expected or type(actual) is not type(expected):
            problems.append(f"{path}: expected {expected!r}, got {actual!r}")
        return problems
    if isinstance(expected, int):
        if type(actual) is not int or actual != expected:
            problems.append(f"{path}: expected int {expected!r}, got {actual!r}")
        return problems
    if isinstance(expected, float):
        if type(actual) is not float or not math.isclose(
            actual, expected, rel_tol=tolerance, abs_tol=tolerance
        ):
            problems.append(f"{path}: expected float {expected!r}, got {actual!r}")
        return problems
    if actual != expected:
        problems.append(f"{path}: expected {expected!r}, got {actual!r}")
    return problems


# --- event builders for tests ---------------------------------------------------------------


class EventFactory:
    """Builds JSON event lines with unique event ids (tests only)."""

    def __init__(self, prefix: str = "e") -> None:
        self.prefix = prefix
        self.counter = 0

    def line(self, kind: str, ts: float | str, event_id: str | None = None, **fields: Any) -> str:
        self.counter += 1
        body = {"type": kind, "event_id": event_id or f"{self.prefix}{self.counter}", "ts": ts}
        body.update(fields)
        return json.dumps(body)

    def offered(self, ts: float | str, call: str, queue: str = "sales", **extra: Any) -> str:
        return self.line("call.offered", ts, call_id=call, queue=queue, **extra)

    def answered(
        self,
        ts: float | str,
        call: str,
        wait: float,
        queue: str = "sales",
        agent: str = "a1",
        **extra: Any,
    ) -> str:
        return self.line(
            "call.answered",
            ts,
            call_id=call,
            queue=queue,
            agent_id=agent,
            wait_seconds=wait,
            **extra,
        )

    def abandoned(
        self, ts: float | str, call: str, wait: float, queue: str = "sales", **extra: Any
    ) -> str:
        return self.line(
            "call.abandoned", ts, call_id=call, queue=queue, wait_seconds=wait, **extra
        )

    def wrapup(
        self,
        ts: float | str,
        call: str,
        talk: float,
        acw: float,
        hold: float | None = None,
        queue: str = "sales",
        agent: str = "a1",
        **extra: Any,
    ) -> str:
        fields: dict[str, Any] = {"talk_seconds": talk, "acw_seconds": acw}
        if hold is not None:
            fields["hold_seconds"] = hold
        return self.line(
            "call.wrapup", ts, call_id=call, queue=queue, agent_id=agent, **fields, **extra
        )

    def state(
        self,
        ts: float | str,
        agent: str,
        state: str,
        queues: Iterable[str] = ("sales",),
        team: str | None = None,
        **extra: Any,
    ) -> str:
        fields: dict[str, Any] = {"agent_id": agent, "state": state, "queues": list(queues)}
        if team is not None:
            fields["team"] = team
        return self.line("agent.state", ts, **fields, **extra)
