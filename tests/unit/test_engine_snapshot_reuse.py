"""A snapshot reuses parts of the previous one where its inputs are the same (per-scope objects
kept by the engine): each must still be a new object the caller may change, and any change of
its inputs between snapshots must show."""

from __future__ import annotations

from typing import Any

import orjson

from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from tests.unit.test_engine_incremental import SETTINGS, event_stream, fresh_snapshot


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
