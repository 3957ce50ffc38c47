"""Instructions per event for decode and for the engine, counted by valgrind (callgrind).

    .venv/bin/python benchmarks/bench_instructions.py [--events 40000]
    .venv/bin/python benchmarks/bench_instructions.py --snapshot [--events 400000]
    CCPULSE_PURE_PYTHON=1 .venv/bin/python benchmarks/bench_instructions.py

    .venv/bin/python benchmarks/bench_instructions.py --keep /tmp/cg  # then, for example:
    callgrind_annotate --inclusive=yes --tree=calling /tmp/cg/callgrind.engine | less

Wall-clock throughput on a shared 2-core VM varies by +-15 % from one minute to the next; the
number of instructions does not (the same count twice, whatever else runs). Each part is the
difference between two runs under callgrind on the workload of bench_engine.py: start-up only,
start-up + decode, start-up + decode + engine, decoding batch by batch as bench_engine.py and
replay do. About half a minute per 40,000 events. 40,000 events are 333 s of event time: ids
hardly expire and only the 5-minute window slides, so `--events 1000000` (about 10 minutes)
counts what bench_engine.py's run costs per event (benchmarks/README.md, "Session 10").

The young garbage collections of each run are printed: one costs about as much as 2,000
instructions per event of a 40,000-event run, while bench_engine.py's 1,000,000 events run one
in all, so a count that moves with them measures the collector, not the code.

`--snapshot` counts instead the instructions inside `Engine.snapshot` on bench_engine.py's
snapshot state (1,000 queues; 400,000 events by default, about 5 minutes): the first snapshot,
a steady one (a second later, no new events), the steady one that crosses a bucket boundary
(every rolling window slides: the largest), and the mean of 10 steady ones a second apart (the
measure until session 12), as four runs side by side.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Runs inside callgrind: the stage given on the command line, nothing else.
WORKLOAD = """
import gc
import sys
from streams.config import settings_from_mapping
from streams.kpi.decode import decode_batch
from streams.kpi.engine import Engine
from streams.runtime import tune_garbage_collector

stage, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as source:
    lines = source.read().split(b"\\n")
engine = Engine(settings_from_mapping({}))
tune_garbage_collector()
collections = gc.get_stats()[0]["collections"]
if stage != "start":
    for start in range(0, len(lines), 4096):
        events = decode_batch(lines[start : start + 4096])
        if stage == "engine":
            engine.process_many(events)
print(f"young collections: {gc.get_stats()[0]['collections'] - collections}")
"""

# Runs inside callgrind, which counts only inside Engine.snapshot: the first snapshot of
# bench_engine.py's snapshot state, then steady ones a second apart: as many as the command line
# says, or (`pre`) those before the first that crosses a bucket boundary, or (`cross`) up to and
# with it. It prints the crossing one's place.
SNAPSHOT_WORKLOAD = """
import gc
import math
import sys
from streams.config import settings_from_mapping
from streams.kpi.decode import decode_batch
from streams.kpi.engine import Engine
from streams.runtime import tune_garbage_collector

steady, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as source:
    lines = source.read().split(b"\\n")
engine = Engine(settings_from_mapping({}))
tune_garbage_collector()
for start in range(0, len(lines), 4096):
    engine.process_many(decode_batch(lines[start : start + 4096]))
as_of = engine.live_as_of(engine.max_ts)
del lines
gc.collect()
bucket = engine.settings.bucket_seconds
crossing = next(
    second for second in range(1, bucket + 1)
    if math.floor((as_of + second) / bucket) != math.floor((as_of + second - 1) / bucket)
)
print(f"crossing: {crossing}")
places = {"pre": crossing - 1, "cross": crossing}  # "pre" is 0 when the first one crosses
count = places[steady] if steady in places else int(steady)
engine.snapshot(as_of)
for second in range(1, count + 1):
    engine.snapshot(as_of + second)
"""
STEADY_SNAPSHOTS = 10


def callgrind(
    stage: str, lines_path: Path, script: Path, keep: Path | None, options: tuple[str, ...] = ()
) -> subprocess.Popen:
    """A callgrind run of `script` with arguments `stage` and `lines_path`, started."""
    output = keep / f"callgrind.{stage}" if keep else Path(os.devnull)
    valgrind = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={output}", *options)
    return subprocess.Popen(
        [*valgrind, sys.executable, str(script), stage, str(lines_path)],
        cwd=ROOT,
        # Fixed string hashes: with random ones, dict probe lengths move the count by about 1 %.
        env={**os.environ, "PYTHONHASHSEED": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def collected(run: subprocess.Popen) -> tuple[int, str]:
    """The instructions a finished callgrind run counted, and what the script printed."""
    stdout, stderr = run.communicate()
    match = re.search(r"Collected : (\d+)", stderr)
    if run.returncode or not match:
        raise SystemExit(f"no instruction count in valgrind's output:\n{stderr[-2000:]}")
    return int(match.group(1)), stdout


def instructions(stage: str, lines_path: Path, script: Path, keep: Path | None) -> tuple[int, int]:
    """(instructions, young collections) of one stage."""
    count, printed = collected(callgrind(stage, lines_path, script, keep))
    collections = re.search(r"young collections: (\d+)", printed)
    if not collections:
        raise SystemExit(f"the workload printed no collection count:\n{printed[-2000:]}")
    return count, int(collections.group(1))


def snapshot_instructions(events: int, keep: Path | None) -> None:
    """Instructions inside Engine.snapshot: the first snapshot, a steady one and the one that
    crosses a bucket boundary (every rolling window slides), and the mean of STEADY_SNAPSHOTS
    steady ones (which holds one crossing) as counted before 2026-11-29's session 12."""
    from streams.synthetic import call_cycle_events

    lines = call_cycle_events(events, queues=1000, agents=3000, calls_per_second=60, seed=3)
    if streams_build() != "mypyc":
        # Callgrind tells functions apart by their C symbols: the pure build's are the
        # interpreter's own.
        raise SystemExit("--snapshot counts the compiled engine only (tools/compile_engine.py)")
    only_snapshots = ("--collect-atstart=no", "--toggle-collect=CPyDef_engine___Engine___snapshot")
    with tempfile.TemporaryDirectory(prefix="ccpulse-instructions-") as work:
        lines_path, script = Path(work, "lines.jsonl"), Path(work, "workload.py")
        lines_path.write_bytes(b"\n".join(lines))
        script.write_text(SNAPSHOT_WORKLOAD)
        stages = ("0", "pre", "cross", str(STEADY_SNAPSHOTS))
        runs = {
            stage: callgrind(stage, lines_path, script, keep, only_snapshots) for stage in stages
        }
        counts, printed = {}, ""
        for stage, run in runs.items():
            counts[stage], printed = collected(run)
    crossing = int(re.search(r"crossing: (\d+)", printed).group(1))
    first = counts["0"]
    cross = counts["cross"] - counts["pre"]
    # The steady ones but the crossing one, before and after it.
    steady = (counts[str(STEADY_SNAPSHOTS)] - first - cross) / (STEADY_SNAPSHOTS - 1)
    mean = (counts[str(STEADY_SNAPSHOTS)] - first) / STEADY_SNAPSHOTS
    print(
        f"engine build {streams_build()}, snapshot of {events:,} events over 1,000 queues: "
        f"first {first / 1e6:,.1f} M instructions, steady {steady / 1e6:,.1f} M, crossing a "
        f"bucket boundary (steady snapshot {crossing}) {cross / 1e6:,.1f} M; mean of "
        f"{STEADY_SNAPSHOTS} steady {mean / 1e6:,.1f} M"
    )


def streams_build() -> str:
    import streams.kpi

    return (os.environ.get("CCPULSE_PURE_PYTHON") and "python") or streams.kpi.BUILD


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, help="40,000, or 400,000 with --snapshot")
    parser.add_argument("--snapshot", action="store_true", help="count Engine.snapshot instead")
    parser.add_argument("--keep", type=Path, help="write each stage's callgrind output here")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    if args.snapshot:
        snapshot_instructions(args.events or 400_000, args.keep)
        return
    args.events = args.events or 40_000
    from streams.synthetic import call_cycle_events

    lines = call_cycle_events(args.events, queues=50, agents=500, calls_per_second=20)
    with tempfile.TemporaryDirectory(prefix="ccpulse-instructions-") as work:
        lines_path, script = Path(work, "lines.jsonl"), Path(work, "workload.py")
        lines_path.write_bytes(b"\n".join(lines))
        script.write_text(WORKLOAD)
        stages = ("start", "decode", "engine")
        runs = {stage: instructions(stage, lines_path, script, args.keep) for stage in stages}
    decode = (runs["decode"][0] - runs["start"][0]) / args.events
    engine = (runs["engine"][0] - runs["decode"][0]) / args.events
    build = streams_build()
    collections = ", ".join(f"{stage} {runs[stage][1]}" for stage in stages)
    print(
        f"engine build {build}, {args.events:,} events: decode {decode:,.0f} + engine "
        f"{engine:,.0f} = {decode + engine:,.0f} instructions per event "
        f"(young collections: {collections})"
    )


if __name__ == "__main__":
    main()
