"""Memory grows with queues, agents, waiting calls and kept buckets, never with the number of
events processed: a million events over ten days leave state no larger than after the first
hundred thousand."""

from __future__ import annotations

import itertools

import orjson
import pytest

from streams.config import settings_from_mapping
from streams.kpi.decode import KEY_SEPARATOR as SEP
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from streams.synthetic import call_cycle_events

TOTAL_EVENTS = 1_000_000
CHECKPOINT = 100_000


def derived_sizes(engine: Engine) -> dict[str, int]:
    derived = engine._index()
    return {
        "expiry": len(derived.expiry),
        "seen_ids": len(derived.seen_ids),
        "seen_ts": len(derived.seen_ts),
        "resolved": len(derived.resolved_keys),
        "waiting": sum(len(calls) for calls in derived.waiting.values()),
        "rolling": len(derived.rolling),
    }


@pytest.mark.slow
def test_state_stops_growing_over_a_million_events() -> None:
    settings = settings_from_mapping({})
    engine = Engine(settings)
    # About 0.17 calls/s: a million events span ten days, so days, intervals and every
    # bucket, id and leg horizon turn over many times.
    events = call_cycle_events(TOTAL_EVENTS, queues=50, agents=500, calls_per_second=0.17)
    sizes_at_checkpoint: dict[str, int] = {}
    processed = 0
    for chunk in iter(lambda: list(itertools.islice(events, 20_000)), []):
        engine.process_many([decode_event(line) for line in chunk])
        processed += len(chunk)
        if processed == CHECKPOINT:
            sizes_at_checkpoint = {**engine.state.size(), **derived_sizes(engine)}
    assert processed == TOTAL_EVENTS
    assert engine.stats.accepted == TOTAL_EVENTS
    assert engine.max_ts - 1_795_000_000 > 9 * 86400
    final = {**engine.state.size(), **derived_sizes(engine)}
    for name, size in final.items():
        # Turnover makes sizes wobble, so allow slack, but nothing may scale with the count.
        assert size <= 1.5 * sizes_at_checkpoint[name] + 100, (name, size, sizes_at_checkpoint)
    # Absolute bounds from the configuration: ids of the lateness horizon, buckets of the
    # longest window per scope plus an interval and a day tally each, one leg per waiting call.
    scopes = final["scopes"]
    assert final["buckets"] <= scopes * (3600 // settings.bucket_seconds + 1 + 4)
    assert final["agents"] <= 500 * 3
    assert final["router"] == 500


def test_answered_calls_leave_nothing_behind() -> None:
    """Answered calls of one busy queue: the engine keeps buckets, recent ids and the legs
    resolved within the lateness bound (300 s), not a record per call for max_wait_seconds
    (4 h by default)."""
    engine = Engine(settings_from_mapping({}))
    start = 1_795_000_000.0
    lines = []
    for call in range(50_000):  # 5 calls/s for 10,000 s
        ts = start + call / 5
        lines.append(
            orjson.dumps(
                {
                    "type": "call.offered",
                    "event_id": f"o{call}",
                    "ts": ts,
                    "call_id": f"c{call}",
                    "queue": "sales",
                }
            )
        )
        lines.append(
            orjson.dumps(
                {
                    "type": "call.answered",
                    "event_id": f"a{call}",
                    "ts": ts + 3,
                    "call_id": f"c{call}",
                    "queue": "sales",
                    "agent_id": "a1",
                    "wait_seconds": 3,
                }
            )
        )
    lines.sort(key=lambda line: orjson.loads(line)["ts"])
    for begin in range(0, len(lines), 4096):
        engine.ingest_many(lines[begin : begin + 4096])
    sizes = {**engine.state.size(), **derived_sizes(engine)}
    resolved_in_lateness = 5 * 300
    assert sizes["legs"] <= resolved_in_lateness + 20  # and calls still waiting
    per_scope_slides = sum(length // 10 + 1 for length in (300, 900, 3600, 1800))
    assert sizes["expiry"] <= per_scope_slides + 10, sizes
    assert sizes["resolved"] <= 2 * resolved_in_lateness + 20, sizes  # cut back at a quarter
    assert sizes["seen"] <= 2 * 5 * 300 + 20  # ids of the lateness horizon


def test_calls_never_answered_are_forgotten_after_max_wait() -> None:
    engine = Engine(settings_from_mapping({"max_wait_seconds": 600}))
    start = 1_795_000_000.0
    lines = [
        orjson.dumps(
            {
                "type": "call.offered",
                "event_id": f"o{call}",
                "ts": start + call,
                "call_id": f"c{call}",
                "queue": "sales",
            }
        )
        for call in range(3000)  # one unanswered call a second for 50 minutes
    ]
    engine.ingest_many(lines)
    assert len(engine.state.legs) <= 600 + 10 + 1
    snapshot = engine.snapshot(start + 3000)
    assert snapshot["queues"]["sales"]["calls_waiting"] == 600  # waited 1..600 s
    assert snapshot["queues"]["sales"]["oldest_waiting_seconds"] == 600


def test_slide_index_keeps_each_scopes_tally_key_and_forgets_both_together() -> None:
    """By bucket, the scopes with a fine tally of it and those tallies' keys, side by side
    (sliding a bucket out reads the tally by that key), both forgotten once the bucket left
    the longest window: 20,000 events over about 6,700 s."""
    engine = Engine(settings_from_mapping({}))
    events = call_cycle_events(20_000, calls_per_second=0.5)
    lines = list(events)
    for begin in range(0, len(lines), 4096):
        engine.process_many([decode_event(line) for line in lines[begin : begin + 4096]])
    derived = engine._index()
    assert derived.slides.keys() == derived.slide_keys.keys()
    assert min(derived.slides) >= engine.now - 3600 - 10
    for bucket, scopes in derived.slides.items():
        keys = [f"{scope}{SEP}b{SEP}{bucket}" for scope in scopes]
        assert derived.slide_keys[bucket] == keys
        assert all(key in engine.state.buckets for key in keys)
