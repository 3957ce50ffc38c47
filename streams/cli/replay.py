"""`ccpulse replay FILE`: the live engine, offline, over a JSONL file; prints the snapshot."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

import orjson

from streams.cli.options import parse_time
from streams.config import load_settings
from streams.errors import UserError
from streams.kpi.engine import ENGINE_LOGGER
from streams.live.log_throttle import throttle_repeated_messages
from streams.replay import replay_lines

_PROGRESS_MIN_BYTES = 8 * 1024 * 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="compute the KPI snapshot of a JSONL event file",
        description="Feed a JSONL file of events through the KPI engine and print the snapshot "
        "JSON on stdout. Rejected lines are counted on stderr.",
    )
    parser.add_argument("file", help="JSONL file of events, or - for stdin")
    parser.add_argument("--at", help="snapshot time, ISO-8601 with offset; later events ignored")
    parser.add_argument("--config", help="config file (default: config/ccpulse.toml)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any line is rejected")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    # An engine fault logs its traceback; the first of a kind is enough among thousands of lines.
    throttle_repeated_messages((ENGINE_LOGGER,))
    at = parse_time(args.at, "--at") if args.at else None
    with _open(args.file) as handle, _progress(handle) as on_line:
        result = replay_lines(handle, settings, at, on_line)
    sys.stdout.buffer.write(orjson.dumps(result.snapshot, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()
    if result.rejected:
        total = sum(result.rejected.values())
        print(f"ccpulse replay: {total} line(s) rejected", file=sys.stderr)
        for reason, count in sorted(result.rejected.items()):
            lines = ", ".join(map(str, result.rejected_lines[reason]))
            more = ", ..." if count > len(result.rejected_lines[reason]) else ""
            print(f"  {reason}: {count} (lines {lines}{more})", file=sys.stderr)
    if result.ignored_after_at:
        print(
            f"ccpulse replay: {result.ignored_after_at} event(s) at or after --at ignored",
            file=sys.stderr,
        )
    return 1 if args.strict and result.rejected else 0


@contextlib.contextmanager
def _open(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise UserError(f"event file {path} not found") from None
    except OSError as error:
        raise UserError(f"cannot read event file {path}: {error.strerror}") from None
    with handle:
        yield handle


@contextlib.contextmanager
def _progress(handle: BinaryIO) -> Iterator:
    """A progress bar on stderr for long files, only when stderr is a terminal."""
    try:
        size = os.fstat(handle.fileno()).st_size
    except (OSError, ValueError):
        size = 0
    if not sys.stderr.isatty() or size < _PROGRESS_MIN_BYTES:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("replaying", total=size)

        def on_line(number: int) -> None:
            if number % 20_000 == 0:
                progress.update(task, completed=handle.tell())

        yield on_line
