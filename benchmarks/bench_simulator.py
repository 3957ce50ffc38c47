"""Speed of `ccpulse simulate`: a day of the 1,000-agent centre to a JSONL file, one core.

Runs the real command in a subprocess (start-up included) and reports wall and CPU time,
calls, events and throughput; median of `--repeat` runs. Usage:

    .venv/bin/python benchmarks/bench_simulator.py [--repeat 3] [--truth]
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "config" / "scenarios" / "large_centre.toml"
TARGET_SECONDS = 60.0


def one_run(out: Path, truth: bool) -> dict[str, float]:
    command = [
        sys.executable, "-m", "streams", "simulate",
        "--scenario", str(SCENARIO), "--out", str(out),
    ]  # fmt: skip
    if truth:
        command += ["--truth-at", "2026-11-23T15:00:00Z", "--truth-out", str(out) + ".truth"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"(\d+) calls, (\d+) events", result.stderr)
    if match is None:
        raise SystemExit(f"unexpected output: {result.stderr}")
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "calls": int(match.group(1)),
        "events": int(match.group(2)),
        "bytes": out.stat().st_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--truth", action="store_true", help="also keep the ledger and truth")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        runs = [one_run(Path(folder) / "events.jsonl", args.truth) for _ in range(args.repeat)]
    wall = statistics.median(run["wall"] for run in runs)
    cpu = statistics.median(run["cpu"] for run in runs)
    calls, events, size = runs[0]["calls"], runs[0]["events"], runs[0]["bytes"]
    print(f"scenario      {SCENARIO.name} ({'with' if args.truth else 'no'} ground truth)")
    print(f"calls         {calls:,}")
    print(f"events        {events:,} ({events / calls:.1f} per call), {size / 1e6:.0f} MB")
    every = ", ".join(f"{run['wall']:.1f}" for run in runs)
    print(f"wall seconds  {wall:.1f} (median of {len(runs)}; all: {every})")
    print(f"cpu seconds   {cpu:.1f}")
    print(f"events/s      {events / wall:,.0f}")
    print(f"per event     {wall / events * 1e6:.1f} us")
    at_fifteen = wall / events * 15 * calls
    print(f"at 15 events per call: about {at_fifteen:.0f} s")
    verdict = "OK" if wall < TARGET_SECONDS else "TOO SLOW"
    print(f"target        under {TARGET_SECONDS:.0f} s: {verdict}")
    return 0 if wall < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
