"""`ccpulse replay` shows a progress bar on stderr for a long file, only when stderr is a
terminal, and never mixes it into the JSON on stdout."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from streams.synthetic import call_cycle_events

CCPULSE = [sys.executable, "-m", "streams"]


@pytest.fixture(scope="module")
def long_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "long.jsonl"
    with path.open("wb") as handle:
        for line in call_cycle_events(70_000, queues=5, agents=20):
            handle.write(line + b"\n")
    assert path.stat().st_size > 8 * 1024 * 1024
    return path


def run_with_stderr(path: Path, stderr: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CCPULSE, "replay", str(path)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        timeout=300,
        check=True,
    )


def test_progress_bar_on_a_terminal(long_file: Path) -> None:
    leader, follower = pty.openpty()
    screen = bytearray()

    def read_terminal() -> None:  # keep draining, or a full terminal buffer blocks the child
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        result = run_with_stderr(long_file, follower)
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    assert b"replaying" in screen
    snapshot = orjson.loads(result.stdout)
    assert snapshot["events"]["accepted"] == 70_000


def test_no_progress_bar_when_stderr_is_not_a_terminal(long_file: Path) -> None:
    result = run_with_stderr(long_file, subprocess.PIPE)
    assert result.stderr == b""
    assert orjson.loads(result.stdout)["events"]["accepted"] == 70_000
