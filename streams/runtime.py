"""Process-wide settings every `ccpulse` command runs with."""

from __future__ import annotations

import gc

# The engine keeps millions of small long-lived containers (tallies, agent records, expiry
# entries) and makes no reference cycles, so with CPython's default thresholds (700, 10, 10) the
# collector took about a third of replay time re-scanning them (benchmarks/README.md). Young
# objects are still collected every 100,000 allocations, which frees the cycles asyncio and
# Faust leave behind, and a full collection still runs every 500 of those (about a minute in the
# worker) once the heap has grown by a quarter, so cycles that got old are freed too.
GC_THRESHOLDS = (100_000, 50, 10)


def tune_garbage_collector() -> None:
    """Collect once, exempt what start-up built (modules, config) from later scans, and raise
    the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
