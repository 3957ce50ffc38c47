"""Engine throughput and snapshot latency (issue: KPI engine).

    .venv/bin/python benchmarks/bench_engine.py [--events 1000000] [--skip-throughput]

1. Decode + validate + engine update of N events over 50 queues and 500 agents, one core,
   in batches of 4,096 lines (what `ccpulse replay` does). Lines are generated first and not
   timed.
2. A snapshot of 1,000 queues (and their agents' teams) with every window: the first one (its
   window totals kept since the first event, its staffing and window figures computed afresh);
   live ones, each after one more second of the same traffic (as the live worker publishes
   while calls flow: queues with new events have new window totals); and steady ones, a
   second apart without new events (only the windows' ends move). Each is timed up to its
   return, as the first one is; freeing it (which a worker does after publishing it, and this
   script did inside the timing until 2026-11-29) is timed apart and reported as "freed".
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import resource
import statistics
import time
from collections.abc import Iterable

import streams.kpi
from streams.config import settings_from_mapping
from streams.kpi.decode import decode_batch
from streams.kpi.engine import Engine
from streams.runtime import tune_garbage_collector
from streams.synthetic import call_cycle_events

BATCH = 4096
STATE_EVENTS = 400_000  # the snapshot benchmark's state
LIVE_SECONDS = 20


def compact(lines: Iterable[bytes]) -> list[bytes]:
    """The lines as `ccpulse replay` reads them from a file: orjson.dumps leaves each result in
    a block of about 4 KiB, so a list of 1,000,000 of them spans 4 GiB and decoding them would
    mostly wait for memory."""
    return b"\n".join(lines).split(b"\n")


def throughput(count: int) -> None:
    lines = compact(call_cycle_events(count, queues=50, agents=500, calls_per_second=20))
    engine = Engine(settings_from_mapping({}))
    tune_garbage_collector()  # as every ccpulse command does
    started = time.perf_counter()
    for start in range(0, len(lines), BATCH):
        engine.process_many(decode_batch(lines[start : start + BATCH]))
    elapsed = time.perf_counter() - started
    assert engine.stats.accepted == count, engine.stats
    print(
        f"throughput: {count:,} events in {elapsed:.2f} s = {count / elapsed:,.0f} events/s "
        f"({elapsed / count * 1e6:.2f} us/event)"
    )


def snapshot_latency() -> None:
    # The state's 400,000 events, then about 40 s more of the same traffic for the live part.
    traffic = call_cycle_events(415_000, queues=1000, agents=3000, calls_per_second=60, seed=3)
    lines = compact(traffic)
    engine = Engine(settings_from_mapping({}))
    for start in range(0, STATE_EVENTS, BATCH):
        engine.process_many(decode_batch(lines[start : min(start + BATCH, STATE_EVENTS)]))
    later = decode_batch(lines[STATE_EVENTS:])
    del lines
    gc.collect()
    as_of = engine.live_as_of(engine.max_ts)
    started = time.perf_counter()
    snapshot = engine.snapshot(as_of)
    first = time.perf_counter() - started
    assert len(snapshot["queues"]) == 1000
    freed: list[float] = []
    live = live_snapshots(engine, later, freed)
    as_of = engine.live_as_of(engine.max_ts)
    steady = [timed_snapshot(engine, as_of + second, freed) for second in range(1, 21)]
    print(
        f"snapshot of {len(snapshot['queues'])} queues, {len(snapshot['teams'])} teams, "
        f"{len(snapshot['queues']['queue-000']['windows'])} windows each: first "
        f"{first * 1000:.1f} ms, steady median {statistics.median(steady) * 1000:.1f} ms, "
        f"max {max(steady) * 1000:.1f} ms; live median {statistics.median(live) * 1000:.1f} "
        f"ms, max {max(live) * 1000:.1f} ms; freed median "
        f"{statistics.median(freed) * 1000:.1f} ms, max {max(freed) * 1000:.1f} ms"
    )


def timed_snapshot(engine: Engine, as_of: float, freed: list[float]) -> float:
    """Seconds Engine.snapshot took; the seconds freeing its result took go to `freed`."""
    started = time.perf_counter()
    snapshot = engine.snapshot(as_of)
    returned = time.perf_counter()
    del snapshot
    freed.append(time.perf_counter() - returned)
    return returned - started


def live_snapshots(engine: Engine, events: list, freed: list[float]) -> list[float]:
    """Seconds taken by a snapshot after each of LIVE_SECONDS seconds of new events, as the
    live worker publishes while traffic flows: queues with new calls or agent states have new
    window totals every time."""
    taken: list[float] = []
    second_end = math.floor(engine.max_ts) + 1
    pending: list = []
    for event in events:
        if event.ts >= second_end:
            engine.process_many(pending)
            pending = []
            taken.append(timed_snapshot(engine, engine.live_as_of(engine.max_ts), freed))
            if len(taken) == LIVE_SECONDS:
                return taken
            second_end += 1
        pending.append(event)
    raise AssertionError(f"fewer than {LIVE_SECONDS} seconds of events after the state")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skip-throughput", action="store_true", help="only the snapshots")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}, engine build: {streams.kpi.BUILD}"
    )
    if args.skip_throughput:
        tune_garbage_collector()  # what throughput() leaves set for the snapshots
    else:
        throughput(args.events)
    snapshot_latency()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB (includes the pre-generated lines)")


if __name__ == "__main__":
    main()
