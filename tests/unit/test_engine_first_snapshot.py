"""The first snapshot builds the running totals of every window from the buckets at once
(`tally.nested_totals`); later ones slide those totals. Both must give the same numbers."""

from __future__ import annotations

import random

from streams.kpi import tally as T
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from streams.kpi.state import EngineState
from tests.unit.test_engine_incremental import SETTINGS, START, event_stream, next_boundary


def added_one_by_one(tallies: list[list], counts: list[int]) -> list[list]:
    total = T.empty()
    totals = []
    done = 0
    for count in counts:
        for tally in tallies[done:count]:
            T.add_into(total, tally)
        done = max(done, count)
        totals.append(list(total))
    return totals


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


def test_nested_totals_are_the_sums_add_into_makes_to_the_bit() -> None:
    rng = random.Random(5)
    for _ in range(200):
        tallies = [random_tally(rng) for _ in range(rng.randint(0, 40))]
        counts = sorted(rng.randint(0, len(tallies)) for _ in range(rng.randint(1, 4)))
        got = T.nested_totals(tallies, counts)
        expected = added_one_by_one(tallies, counts)
        assert got == expected
        # Equal is not enough: 3 == 3.0, and a sum in another order can differ in its last bit.
        assert [[(type(v), repr(v)) for v in total] for total in got] == [
            [(type(v), repr(v)) for v in total] for total in expected
        ]


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
