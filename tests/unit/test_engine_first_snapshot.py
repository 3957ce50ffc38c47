"""An engine keeps the running totals of every window up to date from its first event on; one
restarted over stored mappings builds them from the buckets at its first snapshot. Both must
give the same numbers, to the bit."""

from __future__ import annotations

import random

from streams.kpi import tally as T
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from streams.kpi.state import EngineState
from tests.unit.test_engine_incremental import SETTINGS, START, event_stream, next_boundary


def random_tally(rng: random.Random) -> list:
    """A bucket tally as folding makes it: ints, non-negative floats, zeros left as int 0."""
    tally = T.empty()
    for index in range(T.WIDTH):
        if rng.random() < 0.5:
            continue
        if index in (T.WAIT_SECONDS, T.HANDLE_SECONDS) or (
            index >= T.BUSY_STARTS and (index - T.BUSY_STARTS) % 3 == 1
        ):
            tally[index] = rng.random() * rng.choice([1, 10, 1e4])
        elif index >= T.BUSY_STARTS and (index - T.BUSY_STARTS) % 3 == 2:
            tally[index] = rng.randint(1, 4) * 1_795_000_000
        else:
            tally[index] = rng.randint(1, 9)
    return tally


def test_a_running_total_is_the_same_whatever_order_its_tallies_come_and_go_in() -> None:
    """A window total kept up to date (bucket changes added, buckets taken away as they leave)
    equals the sum of the buckets it holds in the end, to the bit: what a restarted engine
    builds from the stored buckets."""
    rng = random.Random(5)
    for _ in range(200):
        kept = [random_tally(rng) for _ in range(rng.randint(0, 30))]
        gone = [random_tally(rng) for _ in range(rng.randint(0, 30))]
        kept_up = T.RunningTotal()
        for tally in rng.sample(kept + gone, len(kept) + len(gone)):
            kept_up.add_tally(tally, 1)
        for tally in rng.sample(gone, len(gone)):
            kept_up.add_tally(tally, -1)
        built = T.RunningTotal()
        for tally in kept:
            built.add_tally(tally, 1)
        assert [(type(v), repr(v)) for v in kept_up.tally()] == [
            (type(v), repr(v)) for v in built.tally()
        ]
        if not kept:
            assert kept_up.tally() == T.empty()  # no residue once every bucket left


def test_a_running_total_is_within_a_unit_per_bucket_of_the_float_sum() -> None:
    rng = random.Random(6)
    for _ in range(200):
        tallies = [random_tally(rng) for _ in range(rng.randint(1, 30))]
        total = T.RunningTotal()
        for tally in tallies:
            total.add_tally(tally, 1)
        for index, value in enumerate(total.tally()):
            exact = sum(tally[index] for tally in tallies)
            if isinstance(exact, int):
                assert value == exact
            else:
                assert abs(value - exact) <= len(tallies) * 2**-30 + abs(exact) * 1e-15


def test_first_snapshot_of_restored_state_equals_the_live_engines() -> None:
    """An engine that snapshots after every batch (its totals slid, and buckets expiring under
    them) against one restarted over the same mappings before each check, whose snapshot is
    its first: windows, staffing and all, at boundaries and between them."""
    lines = event_stream(11, 900)
    rng = random.Random(11)
    state = EngineState.in_memory()
    live = Engine(SETTINGS, state)
    fed = 0
    checked = 0
    while fed < len(lines):
        batch = lines[fed : fed + rng.randint(1, 30)]
        fed += len(batch)
        live.process_many([decode_event(line) for line in batch])
        if live.stats.accepted == 0:
            continue
        as_of = next_boundary(live) + rng.choice([0, 0, 3, 10, 45, 70])
        restarted = Engine(SETTINGS, state)
        first = restarted.snapshot(as_of)
        steady = live.snapshot(as_of)
        assert first["queues"] == steady["queues"]
        assert first["teams"] == steady["teams"]
        checked += 1
    # Long enough for buckets to leave the longest window (15 minutes) many times over.
    assert live.max_ts - START > 3 * 900
    assert checked > 30


def test_prepared_totals_of_restored_state_equal_the_live_engines() -> None:
    """What the worker does once recovery ends: the totals built before any snapshot."""
    lines = event_stream(12, 900)
    state = EngineState.in_memory()
    live = Engine(SETTINGS, state)
    live.process_many([decode_event(line) for line in lines])
    as_of = next_boundary(live) + 20
    restarted = Engine(SETTINGS, state)
    restarted.prepare_snapshots()
    assert restarted._index().rolling_ready
    first, steady = restarted.snapshot(as_of), live.snapshot(as_of)
    assert first["queues"] == steady["queues"]
    assert first["teams"] == steady["teams"]
