"""Ground truth: the DESIGN snapshot at `as_of`, computed from the simulation's own records.

Written from DESIGN.md ("Metric definitions") and independent of `streams.kpi`: windows are
half-open `[start, as_of)`, counted when each outcome happens; occupancy is agent time in
`on_call`/`wrap_up` against `available`, clipped to the window; state at `as_of` is each
agent's latest state before it and the legs still waiting. All times are compared as whole
milliseconds, the simulator's clock, so there is no rounding at window edges.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from streams.config import Settings
from streams.simulator.ledger import ABANDONED, ANSWERED, WAITING, Ledger

_BUSY = frozenset(("on_call", "wrap_up"))
_IDLE = "available"
_STATES = ("available", "on_call", "wrap_up", "not_ready")
_COUNTS = (
    "offered",
    "answered",
    "answered_within_threshold",
    "abandoned",
    "short_abandoned",
    "abandoned_within_threshold",
    "handled",
)


def window_starts(settings: Settings, as_of: float) -> list[tuple[str, int]]:
    """(window name, start in ms) for every rolling window, `interval` and `today`."""
    as_of_ms = round(as_of * 1000)
    starts = [
        (name, as_of_ms - seconds * 1000) for name, seconds in settings.window_seconds.items()
    ]
    local = datetime.fromtimestamp(as_of, ZoneInfo(settings.timezone))
    minutes = local.hour * 60 + local.minute
    floored = minutes - minutes % settings.interval_minutes
    interval = local.replace(hour=floored // 60, minute=floored % 60, second=0, microsecond=0)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    starts.append(("interval", round(interval.timestamp() * 1000)))
    starts.append(("today", round(midnight.timestamp() * 1000)))
    return starts


def ground_truth(ledger: Ledger, settings: Settings, as_of: float) -> dict[str, Any]:
    as_of_ms = round(as_of * 1000)
    windows = window_starts(settings, as_of)
    queue_names: set[str] = set()
    team_names: set[str] = set()
    agents_in = [
        record
        for record in ledger.agents.values()
        if record.times_ms and record.times_ms[0] < as_of_ms
    ]
    for record in agents_in:
        queue_names.update(record.queues)
        team_names.add(record.team)
    calls = [call for call in ledger.calls if call.offered_ms < as_of_ms]
    queue_names.update(call.queue for call in calls)

    queues = {
        name: {
            "calls_waiting": 0,
            "oldest_waiting_seconds": None,
            "agents": dict.fromkeys(("staffed", *_STATES), 0),
            "windows": {window: _empty_window() for window, _ in windows},
        }
        for name in sorted(queue_names)
    }
    _count_calls(calls, settings, as_of, as_of_ms, windows, queues)
    busy_idle = {("q", name): _zero_time(windows) for name in queue_names}
    busy_idle.update({("t", name): _zero_time(windows) for name in team_names})
    for record in agents_in:
        latest = bisect.bisect_left(record.times_ms, as_of_ms) - 1
        state = record.states[latest]
        for queue in record.queues:
            if state != "logged_out":
                queues[queue]["agents"]["staffed"] += 1
                queues[queue]["agents"][state] += 1
        agent_time = _agent_time(record.times_ms, record.states, latest, as_of_ms, windows)
        for scope in [("q", queue) for queue in record.queues] + [("t", record.team)]:
            totals = busy_idle[scope]
            for index, (busy, idle) in enumerate(agent_time):
                totals[index][0] += busy
                totals[index][1] += idle
    for name, queue in queues.items():
        for (window, _), (busy, idle) in zip(windows, busy_idle[("q", name)], strict=True):
            queue["windows"][window]["occupancy"] = _ratio(busy, busy + idle)
    teams = {
        name: {
            "windows": {
                window: {"occupancy": _ratio(busy, busy + idle)}
                for (window, _), (busy, idle) in zip(windows, busy_idle[("t", name)], strict=True)
            }
        }
        for name in sorted(team_names)
    }
    rejected: dict[str, int] = {}
    for moment, reason in ledger.bad_lines:
        if moment < as_of_ms:
            rejected[reason] = rejected.get(reason, 0) + 1
    return {
        "as_of": datetime.fromtimestamp(as_of, UTC).isoformat(),
        "queues": queues,
        "teams": teams,
        "events": {
            "accepted": bisect.bisect_left(ledger.event_times_ms, as_of_ms),
            "duplicates": 0,
            "rejected": dict(sorted(rejected.items())),
        },
    }


def _empty_window() -> dict[str, Any]:
    window: dict[str, Any] = dict.fromkeys(_COUNTS, 0)
    window.update(wait=0.0, handle=0.0)
    return window


def _zero_time(windows: list) -> list[list[int]]:
    return [[0, 0] for _ in windows]


def _count_calls(
    calls: list,
    settings: Settings,
    as_of: float,
    as_of_ms: int,
    windows: list[tuple[str, int]],
    queues: dict[str, dict[str, Any]],
) -> None:
    max_wait = settings.max_wait_seconds
    for call in calls:
        queue = queues[call.queue]
        rules = settings.for_queue(call.queue)
        threshold = rules.service_level_threshold_seconds
        resolved = call.status != WAITING and call.outcome_ms < as_of_ms
        if not resolved and as_of - call.offered_ms / 1000 <= max_wait:
            queue["calls_waiting"] += 1
            oldest = as_of - call.offered_ms / 1000
            if queue["oldest_waiting_seconds"] is None or oldest > queue["oldest_waiting_seconds"]:
                queue["oldest_waiting_seconds"] = oldest
        wait = call.wait_ms / 1000
        handled = call.wrapup_ms is not None and call.wrapup_ms < as_of_ms
        handle = call.talk_ms / 1000 + call.hold_ms / 1000 + call.acw_ms / 1000
        for name, start in windows:
            counts = queue["windows"][name]
            if start <= call.offered_ms:
                counts["offered"] += 1
            if resolved and start <= call.outcome_ms:
                if call.status == ANSWERED:
                    counts["answered"] += 1
                    counts["answered_within_threshold"] += wait <= threshold
                    counts["wait"] += wait
                elif call.status == ABANDONED:
                    counts["abandoned"] += 1
                    counts["short_abandoned"] += wait < rules.short_abandon_seconds
                    counts["abandoned_within_threshold"] += wait <= threshold
            if handled and start <= call.wrapup_ms:
                counts["handled"] += 1
                counts["handle"] += handle
    for name, queue in queues.items():
        formula = settings.for_queue(name).service_level_formula
        for counts in queue["windows"].values():
            _finish_window(counts, formula)


def _finish_window(counts: dict[str, Any], formula: str) -> None:
    answered, abandoned = counts["answered"], counts["abandoned"]
    short, within = counts["short_abandoned"], counts["answered_within_threshold"]
    if formula == "offered":
        counts["service_level"] = _ratio(within, answered + abandoned - short)
    elif formula == "answered":
        counts["service_level"] = _ratio(within, answered)
    else:
        counts["service_level"] = _ratio(
            within + counts["abandoned_within_threshold"], answered + abandoned
        )
    counts["asa_seconds"] = _ratio(counts.pop("wait"), answered)
    counts["abandon_rate"] = _ratio(abandoned - short, answered + abandoned - short)
    counts["aht_seconds"] = _ratio(counts.pop("handle"), counts["handled"])
    counts["occupancy"] = None


def _agent_time(
    times: list[int], states: list[str], latest: int, as_of_ms: int, windows: list[tuple[str, int]]
) -> list[tuple[int, int]]:
    """(busy ms, idle ms) of one agent inside each window, every spell clipped to it."""
    result = []
    for _, start in windows:
        busy = idle = 0
        for index in range(latest, -1, -1):
            begin = times[index]
            end = times[index + 1] if index < latest else as_of_ms
            if end <= start:
                break  # this spell and every earlier one ended before the window
            state = states[index]
            if state in _BUSY:
                busy += end - max(begin, start)
            elif state == _IDLE:
                idle += end - max(begin, start)
        result.append((busy, idle))
    return result


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
