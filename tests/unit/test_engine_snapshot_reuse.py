"""A snapshot reuses parts of the previous one where its inputs are the same (per-scope objects
kept by the engine): each must still be a new object the caller may change, and any change of
its inputs between snapshots must show."""

from __future__ import annotations

from typing import Any

import orjson

from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from tests.unit.test_engine_incremental import SETTINGS, START, event_stream, fresh_snapshot


def _scribble(value: Any) -> None:
    """Change every dict of a snapshot in place, as a careless caller might."""
    if isinstance(value, dict):
        for key in list(value):
            _scribble(value[key])
            value[key] = "changed"
        value["added"] = 1


def _agent_state(number: int, ts: float, state: str) -> bytes:
    return orjson.dumps(
        {
            "type": "agent.state",
            "event_id": f"late{number}",
            "ts": ts,
            "agent_id": "a0",
            "state": state,
            "queues": ["sales", "support"],
            "team": "t0",
        }
    )


def test_a_changed_snapshot_changes_no_later_one() -> None:
    lines = event_stream(3, 400)
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = engine.live_as_of(engine.max_ts)
    for second in range(4):  # steady snapshots: no event between them
        snapshot = engine.snapshot(as_of + second)
        assert snapshot == fresh_snapshot(lines, as_of + second)
        _scribble(snapshot)


def test_agent_counts_that_change_between_snapshots_show() -> None:
    lines = event_stream(4, 300)
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = engine.live_as_of(engine.max_ts)
    for number, state in enumerate(["on_call", "wrap_up", "available", "not_ready", "on_call"]):
        assert engine.snapshot(as_of) == fresh_snapshot(lines, as_of)
        line = _agent_state(number, as_of + 0.5, state)
        engine.process(decode_event(line))
        lines.append(line)
        as_of += 1
    assert engine.snapshot(as_of) == fresh_snapshot(lines, as_of)


def _call(number: int, ts: float, queue: str) -> bytes:
    return orjson.dumps(
        {
            "type": "call.offered",
            "event_id": f"call{number}",
            "ts": ts,
            "call_id": f"x{number}",
            "queue": queue,
        }
    )


def test_a_scope_s_agents_calls_and_windows_show_once_they_appear() -> None:
    # "sales" is known by an agent only, "lobby" by a call only, then each gets the other: the
    # views of the first snapshots had no agent counts, waiting calls or running totals.
    lines = [_agent_state(0, START + 1.0, "available"), _call(0, START + 2.0, "lobby")]
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = START + 5.0
    more = [
        _call(1, START + 6.0, "sales"),
        orjson.dumps(
            {
                "type": "agent.state",
                "event_id": "lobby0",
                "ts": START + 7.0,
                "agent_id": "a9",
                "state": "on_call",
                "queues": ["lobby"],
                "team": "t9",
            }
        ),
        _call(2, START + 31.0, "sales"),
    ]
    for line in [b"", *more]:
        if line:
            engine.process(decode_event(line))
            lines.append(line)
        as_of = max(as_of + 1.0, engine.max_ts + 1.0)
        assert engine.snapshot(as_of) == fresh_snapshot(lines, as_of)
        wanted = engine.snapshot(as_of + 0.5, queues=["lobby"], teams=["t9"])
        full = fresh_snapshot(lines, as_of + 0.5)
        assert wanted["queues"] == {"lobby": full["queues"]["lobby"]}
        assert wanted["teams"] == {
            name: full["teams"][name] for name in full["teams"] if name == "t9"
        }
