"""Pid records for services started from a shell, so another shell can find and stop them.

One JSON file per service in `<var>/run/`. A record is trusted only while its pid is alive and
still runs the same program (its command line holds the recorded marker): a pid reused by
an unrelated process is never signalled.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from streams.services.process import pid_alive, pid_cmdline, terminate_pid


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    name: str
    pid: int
    address: str
    marker: str
    data_dir: str
    log_file: str
    started_at: float

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid) and self.marker in pid_cmdline(self.pid)


def record_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.json"


def write_record(run_dir: Path, record: ServiceRecord) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(run_dir, record.name)
    staging = path.with_suffix(f".tmp-{os.getpid()}")
    staging.write_text(json.dumps(asdict(record), indent=2) + "\n")
    staging.replace(path)
    return path


def read_record(run_dir: Path, name: str) -> ServiceRecord | None:
    """The record for `name`, or None if there is none or it is unreadable."""
    try:
        data = json.loads(record_path(run_dir, name).read_text())
        return ServiceRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove_record(run_dir: Path, name: str) -> None:
    record_path(run_dir, name).unlink(missing_ok=True)


def stop_recorded(run_dir: Path, name: str, timeout: float) -> str:
    """Stop the service `name` recorded in `run_dir`; returns what happened, for humans."""
    record = read_record(run_dir, name)
    if record is None:
        return f"{name}: not running (no record in {run_dir})"
    if not record.alive:
        remove_record(run_dir, name)
        return f"{name}: not running (stale record for pid {record.pid} removed)"
    started = time.monotonic()
    graceful = terminate_pid(record.pid, timeout)
    remove_record(run_dir, name)
    how = "stopped" if graceful else "killed after SIGTERM timed out"
    return f"{name}: {how} (pid {record.pid}, {time.monotonic() - started:.1f}s)"
