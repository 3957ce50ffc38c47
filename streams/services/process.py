"""A local server run as a child process: spawn, wait until it answers, stop it cleanly.

Each service (Kafka, Redis, Prometheus) subclasses `ManagedService` and says how to prepare its
files, which command to run and how to ask whether it answers. Processes start in their own
session so Ctrl-C in a terminal reaches the supervisor (which then stops them in order), not
every server at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Self, TypeVar

from streams.errors import UserError

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
_LOG_TAIL_LINES = 30


class ServiceError(UserError):
    """A local service could not be prepared, started or stopped; the message says why."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it; a small race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports (held open together while picking, so none repeats)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind((host, 0))
        return [int(probe.getsockname()[1]) for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def poll_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.1, what: str = "condition"
) -> T:
    """Call `predicate` until it returns something truthy; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not met within {timeout:.1f}s")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def pid_alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state letter follows the parenthesised command name, which may itself hold spaces.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def pid_cmdline(pid: int) -> str:
    """The command line of `pid` (NUL separators as spaces), or "" when it cannot be read."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def terminate_pid(pid: int, timeout: float, reap: Callable[[], object] | None = None) -> bool:
    """SIGTERM `pid`'s process group, wait up to `timeout` s, then SIGKILL it.

    Returns True when it exited on SIGTERM, False when it had to be killed. `reap` is called
    while waiting so a parent can collect its own child (otherwise it would linger as a zombie).
    """

    def gone() -> bool:
        if reap is not None:
            reap()
        return not pid_alive(pid)

    if gone():
        return True
    _signal_group(pid, signal.SIGTERM)
    try:
        poll_until(gone, timeout, 0.1, what=f"pid {pid} exit")
        return True
    except TimeoutError:
        _signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            poll_until(gone, 10.0, 0.1, what=f"pid {pid} exit after SIGKILL")
        return False


def _signal_group(pid: int, signum: int) -> None:
    # Services lead their own session (pgid == pid); signalling the group also reaches any
    # helper they forked. Fall back to the single pid if the group is not ours.
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGTERM it when the parent
    # dies, so a crashed test run does not leave brokers behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log file ("" if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ManagedService:
    """One server process: subclasses define `name`, `command()`, `probe()` and `prepare()`."""

    name = "service"
    start_timeout = 60.0
    stop_timeout = 30.0

    def __init__(self, data_dir: Path | str, *, bind_to_parent: bool = True) -> None:
        self.data_dir = Path(data_dir).resolve()
        # True: the server dies with the Python process that started it (tests, `dev run`'s
        # supervisor). False: it outlives it (`ccpulse services start` from a shell).
        self.bind_to_parent = bind_to_parent
        self._process: subprocess.Popen[bytes] | None = None

    # --- what subclasses define -------------------------------------------------------
    def prepare(self) -> None:
        """Write config files, format storage: everything before the first exec."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def ports(self) -> list[int]:
        """Loopback ports the server will listen on; they must be free before it starts."""
        return []

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def stdin_text(self) -> str | None:
        """Text written to the server's stdin at start (e.g. config with a secret), or None."""
        return None

    def probe(self) -> bool:
        """One quick attempt to talk to the server; True when it answers."""
        raise NotImplementedError

    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def process_marker(self) -> str:
        """Text in the running server's command line that identifies it (see registry)."""
        return self.command()[0]

    def diagnostics(self) -> str:
        """Where to look and the last log lines, for an error message."""
        return f"see {self.log_file}:\n{log_tail(self.log_file)}"

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def log_file(self) -> Path:
        """Where the server's stdout and stderr go."""
        return self.data_dir / f"{self.name}.out"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float | None = None) -> Self:
        """Start the server and return once it answers; ServiceError (with its log) if not."""
        if self.running:
            return self
        busy = [port for port in self.ports() if port_accepts("127.0.0.1", port)]
        if busy:
            raise ServiceError(
                f"{self.name}: port {busy[0]} on 127.0.0.1 is already in use; stop whatever "
                f"listens there (`ccpulse services status`) or choose another port"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        self._process = self._spawn()
        try:
            self.wait_ready(self.start_timeout if timeout is None else timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        stdin_text = self.stdin_text()
        use_parent_death = (
            self.bind_to_parent and threading.current_thread() is threading.main_thread()
        )
        log: IO[bytes]
        with self.log_file.open("ab") as log:
            try:
                process = subprocess.Popen(
                    self.command(),
                    cwd=self.data_dir,
                    env=self.environment(),
                    stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if use_parent_death else None,
                )
            except FileNotFoundError as error:
                raise ServiceError(
                    f"{self.name}: cannot run {error.filename!r}: not installed?"
                ) from error
        if stdin_text is not None and process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(stdin_text.encode())
            process.stdin.close()
        return process

    def wait_ready(self, timeout: float) -> None:
        """Poll `probe()` until it answers; ServiceError if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {self._process.returncode} while starting; "
                    + self.diagnostics()
                )
            if self.probe():
                return
            if time.monotonic() >= deadline:
                raise ServiceError(
                    f"{self.name} did not answer on {self.address} within {timeout:.0f}s; "
                    + self.diagnostics()
                )
            time.sleep(0.2)

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, wait up to `timeout` s, then SIGKILL. Safe to call twice."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            terminate_pid(
                process.pid, self.stop_timeout if timeout is None else timeout, process.poll
            )
        process.wait()
        if process.stdin is not None:
            process.stdin.close()
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
