"""`ccpulse top` in a real pseudo-terminal against a real redis-server.

The command starts while Redis is down (the screen must say so and the board must keep
retrying), then Redis comes up holding a queue snapshot and the screen must show the queue and
its numbers; a key switches the window; `q` exits cleanly.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import redis

from streams.services import RedisServer, free_ports

ROOT = Path(__file__).resolve().parents[2]
ROWS, COLS = 24, 160
# CSI (colours, cursor moves), OSC (titles) and the two-byte escapes a TUI writes.
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")

SNAPSHOT = {
    "as_of": "2026-11-23T10:00:00+00:00",
    "calls_waiting": 3,
    "oldest_waiting_seconds": 41.0,
    "agents": {"staffed": 12, "available": 2, "on_call": 8, "wrap_up": 1, "not_ready": 1},
    "windows": {
        "15m": {
            "offered": 40,
            "service_level": 0.8108,
            "asa_seconds": 14.2,
            "abandon_rate": 0.0541,
            "aht_seconds": 301.5,
            "occupancy": 0.83,
        },
        "60m": {
            "offered": 150,
            "service_level": 0.7012,
            "asa_seconds": 33.0,
            "abandon_rate": 0.08,
            "aht_seconds": 290.0,
            "occupancy": 0.88,
        },
    },
}


class Terminal:
    """A child process on a pty of ROWS x COLS; `text` is everything it drew, escapes removed."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.master = master
        self.raw = b""

    @property
    def text(self) -> str:
        return _ESCAPES.sub(b"", self.raw).decode("utf-8", "replace")

    def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.1))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    return
                if not chunk:
                    return
                self.raw += chunk

    def wait_for(self, *needles: str, after: int = 0, timeout: float = 20.0) -> int:
        """Wait until every needle shows after text position `after`; returns the position
        just past the first needle's first appearance there."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            if all(needle in text[after:] for needle in needles):
                return text.index(needles[0], after) + len(needles[0])
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(
                    f"screen never showed {needles!r} (exit code {self.process.poll()}); "
                    f"last screen text: {text[-1500:]!r}"
                )
            self.read_for(0.1)

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        os.close(self.master)


def test_top_shows_redis_outage_then_the_queue_numbers(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "CCPULSE_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "TERM": "xterm-256color",
        "COLUMNS": str(COLS),
        "LINES": str(ROWS),
    }
    terminal = Terminal([sys.executable, "-m", "streams", "top"], env)
    server = RedisServer(tmp_path / "redis", port=port)
    try:
        down = terminal.wait_for("unreachable", "retrying")
        with server:
            client = redis.Redis(host="127.0.0.1", port=port)
            client.sadd("ccpulse:queues", "sales")
            current = dict(SNAPSHOT, as_of=datetime.now(UTC).isoformat())
            client.hset("ccpulse:queue:sales", "snapshot", orjson.dumps(current))
            shown = terminal.wait_for("sales", "81.1% / 80%", "41s", "14s", "5:02", after=down)
            terminal.wait_for("1 queue(s), updated", after=down)
            terminal.press("w")
            shown = terminal.wait_for("[60m]", "70.1% / 80%", "33s", after=shown)
            # The worker stopped publishing five minutes ago: same numbers, marked stale.
            frozen = dict(SNAPSHOT, as_of=(datetime.now(UTC) - timedelta(minutes=5)).isoformat())
            client.hset("ccpulse:queue:sales", "snapshot", orjson.dumps(frozen))
            terminal.wait_for("sales (stale 5:0", "not updated for over 10 s: sales", after=shown)
            terminal.press("q")
            assert terminal.process.wait(15) == 0
            client.close()
    finally:
        terminal.close()
