"""The live worker snapshots every second while events keep coming, restarts, and rebuilds its
derived indexes after table recovery. None of that may change a number: every snapshot must
equal a fresh engine's snapshot of the same events."""

from __future__ import annotations

import random

import orjson
import pytest

from streams.config import settings_from_mapping
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from streams.kpi.state import EngineState

START = 1_795_000_000  # a multiple of every bucket size used here


def event_stream(seed: int, count: int) -> list[bytes]:
    """Calls and agent states over a few queues, teams and agents, roughly in time order with
    some disorder, duplicates and the odd bad line."""
    rng = random.Random(seed)
    queues = ["sales", "support", "vip"]
    agents = {f"a{index}": rng.sample(queues, rng.randint(1, 2)) for index in range(6)}
    lines: list[dict] = []
    ts = float(START)
    for number in range(count):
        ts += rng.choice([0.0, 0.5, 3.0, 10.0, 27.3, 60.0])
        jitter = ts - rng.choice([0.0, 0.0, 0.0, 12.0, 45.0])
        kind = rng.random()
        call_id = f"c{rng.randint(0, count // 3)}"
        queue = rng.choice(queues)
        base = {"event_id": f"e{number}", "ts": jitter, "call_id": call_id, "queue": queue}
        if kind < 0.25:
            lines.append({"type": "call.offered", **base})
        elif kind < 0.45:
            lines.append(
                {
                    "type": "call.answered",
                    "agent_id": "a1",
                    "wait_seconds": rng.choice([0, 5, 10, 20, 20.5, 40]),
                    **base,
                }
            )
        elif kind < 0.55:
            lines.append(
                {"type": "call.abandoned", "wait_seconds": rng.choice([1, 5, 20, 90]), **base}
            )
        elif kind < 0.65:
            lines.append(
                {
                    "type": "call.wrapup",
                    "agent_id": "a1",
                    "talk_seconds": 100,
                    "hold_seconds": 5,
                    "acw_seconds": 30,
                    **base,
                }
            )
        else:
            agent = rng.choice(list(agents))
            if rng.random() < 0.1:
                agents[agent] = rng.sample(queues, rng.randint(1, 2))
            state = rng.choice(["available", "on_call", "wrap_up", "not_ready", "logged_out"])
            lines.append(
                {
                    "type": "agent.state",
                    "event_id": f"e{number}",
                    "ts": jitter,
                    "agent_id": agent,
                    "state": state,
                    "queues": agents[agent],
                    "team": f"t{int(agent[1:]) % 2}",
                }
            )
        if rng.random() < 0.05:
            lines.append(dict(lines[-1]))  # redelivered
    raw = [orjson.dumps(line) for line in lines]
    raw.insert(len(raw) // 2, b"{not json")
    return raw


SETTINGS = settings_from_mapping(
    {
        "timezone": "Europe/Paris",
        "windows": ["1m", "5m", "15m"],
        "bucket_seconds": 10,
        "interval_minutes": 15,
        "allowed_lateness_seconds": 120,
        "queues": {"vip": {"service_level_formula": "removed"}},
    }
)


def fresh_snapshot(lines: list[bytes], as_of: float) -> dict:
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    return engine.snapshot(as_of)


def next_boundary(engine: Engine) -> float:
    return (int(engine.max_ts // 10) + 1) * 10


@pytest.mark.parametrize("seed", range(6))
def test_snapshots_between_batches_equal_a_fresh_engine(seed: int) -> None:
    lines = event_stream(seed, 600)
    rng = random.Random(seed)
    engine = Engine(SETTINGS)
    fed = 0
    checked = 0
    while fed < len(lines):
        batch = lines[fed : fed + rng.randint(1, 40)]
        fed += len(batch)
        engine.process_many([decode_event(line) for line in batch])
        if engine.stats.accepted == 0:
            continue
        as_of = next_boundary(engine) + rng.choice([0, 0, 10, 30])
        assert engine.snapshot(as_of) == fresh_snapshot(lines[:fed], as_of)
        checked += 1
    assert checked > 10


@pytest.mark.parametrize("seed", range(4))
def test_rebuilt_indexes_and_restarted_engine_agree(seed: int) -> None:
    """invalidate_caches() (after table recovery) and a new Engine over the same mappings (a
    restarted worker) give the snapshots of an engine that never stopped."""
    lines = event_stream(100 + seed, 500)
    steady = Engine(SETTINGS)
    state = EngineState.in_memory()
    restarted = Engine(SETTINGS, state)
    for start in range(0, len(lines), 50):
        batch = [decode_event(line) for line in lines[start : start + 50]]
        steady.process_many(batch)
        restarted.process_many(batch)
        as_of = next_boundary(steady)
        assert restarted.snapshot(as_of)["queues"] == steady.snapshot(as_of)["queues"]
        if start % 100 == 0:
            restarted.invalidate_caches()
        else:
            now, max_ts = restarted.now, restarted.max_ts
            restarted = Engine(SETTINGS, state)
            restarted.now, restarted.max_ts = now, max_ts  # a live worker passes the clock


def test_one_event_at_a_time_equals_batches() -> None:
    lines = event_stream(7, 400)
    one_by_one = Engine(SETTINGS)
    for line in lines:
        one_by_one.ingest(line)
    batched = Engine(SETTINGS)
    batched.ingest_many(lines)
    as_of = next_boundary(batched)
    assert one_by_one.snapshot(as_of) == batched.snapshot(as_of)


def test_process_counters_follow_accepted_events() -> None:
    engine = Engine(SETTINGS)
    lines = event_stream(3, 200)
    items = [decode_event(line) for line in lines]
    outcomes = engine.process_many(items)
    accepted = [item for item, outcome in zip(items, outcomes, strict=True) if outcome.accepted]
    assert engine.stats.accepted == len(accepted)
    assert engine.stats.last_event_ts == max(event.ts for event in accepted)
    assert sum(engine.stats.by_type.values()) == len(accepted)
    assert engine.stats.rejected["invalid_json"] == 1
