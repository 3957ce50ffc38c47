"""Run `ccpulse ...` with a memory tracer: where does a long-running worker's memory go?

    CCPULSE_MEMTRACE_DIR=DIR .venv/bin/python benchmarks/memtrace.py worker --config ...

A daemon thread writes `DIR/memtrace.jsonl`, one line every `CCPULSE_MEMTRACE_INTERVAL`
seconds (default 60): RSS, glibc malloc totals (mallinfo2: bytes in use, free bytes kept,
mmapped), the bytes traced by tracemalloc, the top allocation sites by line and their growth
since the previous line, and (`CCPULSE_MEMTRACE_TYPES=1`) the gc-tracked objects by type.
`CCPULSE_MEMTRACE_TRIM=1` also calls malloc_trim(0) after each sample and records the RSS
after it: RSS that trimming gives back was free heap (fragmentation), not live objects.
`CCPULSE_MEMTRACE_FRAMES` (default 1) is the traceback depth tracemalloc keeps;
`CCPULSE_MEMTRACE_TRACEMALLOC=0` leaves tracemalloc off (RSS, glibc and pymalloc statistics
only: cheap enough not to disturb the worker). Also recorded: pymalloc's own statistics
(`sys._debugmallocstats`: bytes in live small objects, free blocks it keeps, arenas).

tracemalloc costs CPU (roughly 2x per allocation); use it to find growing structures, not to
measure speed. bench_worker.py --trace-memory runs its paced worker through this.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _mib(size: float) -> float:
    return round(size / 2**20, 2)


PYMALLOC_FIELDS = {
    "# arenas allocated current": "arenas",
    "# bytes in allocated blocks": "in_use_mib",
    "# bytes in available blocks": "free_blocks_mib",
    "Total": "total_mib",
}


def pymalloc_stats() -> dict:
    """CPython's small-object allocator (objects <= 512 bytes, in 1 MiB arenas of their own,
    outside glibc's heap): bytes in live blocks, free blocks kept in its pools, arenas. Read
    from sys._debugmallocstats(), which prints to the C stderr: fd 2 is pointed at a file
    meanwhile (a log line written by another thread in that instant would land there)."""
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        try:
            os.dup2(capture.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode(errors="replace")
    stats: dict = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        key = PYMALLOC_FIELDS.get(name.strip())
        if key is not None and key not in stats:
            number = int(value.strip().replace(",", ""))
            stats[key] = number if key == "arenas" else _mib(number)
    return stats


class Tracer:
    def __init__(self, directory: Path, interval: float, top: int = 40) -> None:
        self.path = directory / "memtrace.jsonl"
        self.interval = interval
        self.top = top
        self.types = os.environ.get("CCPULSE_MEMTRACE_TYPES", "") not in ("", "0")
        self.trim = os.environ.get("CCPULSE_MEMTRACE_TRIM", "") not in ("", "0")
        self.libc = _libc()
        self.started = time.monotonic()
        self.previous: tracemalloc.Snapshot | None = None
        self.previous_types: Counter | None = None
        self.filters = [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, __file__),
        ]

    def sample(self) -> dict:
        record: dict = {"t": round(time.monotonic() - self.started, 1), "rss_mib": rss_mib()}
        if self.libc is not None:
            info = self.libc.mallinfo2()
            record["malloc"] = {
                "heap_mib": _mib(info.arena),
                "in_use_mib": _mib(info.uordblks),
                "free_mib": _mib(info.fordblks),
                "mmapped_mib": _mib(info.hblkhd),
            }
        record["pymalloc"] = pymalloc_stats()
        if tracemalloc.is_tracing():
            traced, peak = tracemalloc.get_traced_memory()
            record["traced_mib"], record["traced_peak_mib"] = _mib(traced), _mib(peak)
            snapshot = tracemalloc.take_snapshot().filter_traces(self.filters)
            record["top"] = [
                [str(stat.traceback[0]), _mib(stat.size), stat.count]
                for stat in snapshot.statistics("lineno")[: self.top]
            ]
            if self.previous is not None:
                record["growth"] = [
                    [str(stat.traceback[0]), _mib(stat.size_diff), stat.count_diff]
                    for stat in snapshot.compare_to(self.previous, "lineno")[: self.top]
                ]
            self.previous = snapshot
        if self.types:
            counts = Counter(type(obj).__qualname__ for obj in gc.get_objects())
            record["types"] = counts.most_common(self.top)
            if self.previous_types is not None:
                diff = counts.copy()
                diff.subtract(self.previous_types)
                record["types_growth"] = diff.most_common(self.top)
            self.previous_types = counts
        if self.trim and self.libc is not None:
            self.libc.malloc_trim(0)
            record["rss_after_trim_mib"] = rss_mib()
        return record

    def run(self) -> None:
        with self.path.open("a") as out:
            while True:
                time.sleep(self.interval)
                try:
                    record = self.sample()
                except Exception as error:  # never take the worker down
                    record = {"error": repr(error)}
                out.write(json.dumps(record) + "\n")
                out.flush()


def main() -> int:
    directory = Path(os.environ.get("CCPULSE_MEMTRACE_DIR", "."))
    directory.mkdir(parents=True, exist_ok=True)
    if os.environ.get("CCPULSE_MEMTRACE_TRACEMALLOC", "1") not in ("", "0"):
        tracemalloc.start(int(os.environ.get("CCPULSE_MEMTRACE_FRAMES", "1")))
    tracer = Tracer(directory, float(os.environ.get("CCPULSE_MEMTRACE_INTERVAL", "60")))
    threading.Thread(target=tracer.run, name="memtrace", daemon=True).start()
    from streams.cli import main as ccpulse_main

    return ccpulse_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
