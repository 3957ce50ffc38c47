"""Time to solve minimum agents (and to evaluate one staffing) under Erlang C and Erlang A.

Run: .venv/bin/python benchmarks/bench_erlang.py [--repeat N]
Prints a Markdown table; the numbers in benchmarks/README.md ("## Erlang") come from it.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from fractions import Fraction

from streams.kpi.erlang import erlang_a, erlang_c, minimum_agents

AHT = 180
THRESHOLD = 20
TARGET = Fraction(8, 10)
PATIENCE = 120


def timed(task: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time in milliseconds over `repeat` runs, and the last result."""
    durations = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = task()
        durations.append((time.perf_counter() - start) * 1000)
    return statistics.median(durations), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {platform.processor() or platform.machine()}")
    print(f"AHT {AHT} s, {float(TARGET):.0%} within {THRESHOLD} s, Erlang A patience {PATIENCE} s")
    print()
    print("| traffic (Erlangs) | task | agents | median ms |")
    print("|---:|---|---:|---:|")
    for traffic in (10, 500, 5000, 20000):
        rate = Fraction(traffic, AHT)
        occupancy = Fraction(85, 100)
        rows = [
            ("solve Erlang C", lambda r=rate: minimum_agents(r, AHT, THRESHOLD, TARGET)),
            (
                "solve Erlang C, max occupancy 0.85",
                lambda r=rate, o=occupancy: minimum_agents(
                    r, AHT, THRESHOLD, TARGET, max_occupancy=o
                ),
            ),
            (
                "solve Erlang A",
                lambda r=rate: minimum_agents(r, AHT, THRESHOLD, TARGET, patience_seconds=PATIENCE),
            ),
            (
                "solve Erlang A, max occupancy 0.85",
                lambda r=rate, o=occupancy: minimum_agents(
                    r, AHT, THRESHOLD, TARGET, patience_seconds=PATIENCE, max_occupancy=o
                ),
            ),
            (
                "evaluate Erlang C at n = traffic + 1",
                lambda r=rate, n=traffic + 1: erlang_c(n, r, AHT, THRESHOLD).agents,
            ),
            (
                "evaluate Erlang A at n = traffic + 1",
                lambda r=rate, n=traffic + 1: erlang_a(n, r, AHT, PATIENCE, THRESHOLD).agents,
            ),
        ]
        for name, task in rows:
            milliseconds, agents = timed(task, args.repeat)
            print(f"| {traffic} | {name} | {agents} | {milliseconds:.2f} |")


if __name__ == "__main__":
    main()
