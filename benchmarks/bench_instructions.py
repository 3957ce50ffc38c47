"""Instructions per event for decode and for the engine, counted by valgrind (callgrind).

    .venv/bin/python benchmarks/bench_instructions.py [--events 40000]
    CCPULSE_PURE_PYTHON=1 .venv/bin/python benchmarks/bench_instructions.py

Wall-clock throughput on a shared 2-core VM varies by +-15 % from one minute to the next; the
number of instructions does not (the same count twice, whatever else runs). Each part is the
difference between two runs under callgrind on the workload of bench_engine.py: start-up only,
start-up + decode, start-up + decode + engine. About a minute per 40,000 events.
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
import sys
from streams.config import settings_from_mapping
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from streams.runtime import tune_garbage_collector

stage, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as source:
    lines = source.read().split(b"\\n")
tune_garbage_collector()
events = [decode_event(line) for line in lines] if stage != "start" else []
if stage == "engine":
    engine = Engine(settings_from_mapping({}))
    for start in range(0, len(events), 4096):
        engine.process_many(events[start : start + 4096])
"""


VALGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")


def instructions(stage: str, lines_path: Path, script: Path) -> int:
    result = subprocess.run(
        [*VALGRIND, sys.executable, str(script), stage, str(lines_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if not match:
        raise SystemExit(f"no instruction count in valgrind's output:\n{result.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    import streams.kpi
    from streams.synthetic import call_cycle_events

    lines = call_cycle_events(args.events, queues=50, agents=500, calls_per_second=20)
    with tempfile.TemporaryDirectory(prefix="ccpulse-instructions-") as work:
        lines_path, script = Path(work, "lines.jsonl"), Path(work, "workload.py")
        lines_path.write_bytes(b"\n".join(lines))
        script.write_text(WORKLOAD)
        stages = ("start", "decode", "engine")
        counts = {stage: instructions(stage, lines_path, script) for stage in stages}
    decode = (counts["decode"] - counts["start"]) / args.events
    engine = (counts["engine"] - counts["decode"]) / args.events
    build = (os.environ.get("CCPULSE_PURE_PYTHON") and "python") or streams.kpi.BUILD
    print(
        f"engine build {build}, {args.events:,} events: decode {decode:,.0f} + engine "
        f"{engine:,.0f} = {decode + engine:,.0f} instructions per event"
    )


if __name__ == "__main__":
    main()
