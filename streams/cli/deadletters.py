"""`ccpulse dead-letters`: what the workers rejected, read back from the dead-letter topic."""

from __future__ import annotations

import argparse
import asyncio
import heapq
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO

import orjson

from streams.cli.options import parse_time
from streams.config import load_settings, parse_duration
from streams.errors import UserError
from streams.kpi.events import INTERNAL_ERROR, REJECTION_REASONS

if TYPE_CHECKING:
    from streams.adapters.dead_letter_reader import DeadLetter

REASONS = (*REJECTION_REASONS, INTERNAL_ERROR)
_EXCERPT_CHARS = 160


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dead-letters",
        help="summarise or export the rejected events of the dead-letter topic",
        description=(
            "Reads the dead-letter topic (topics.dead_letter of the config) from --since, or "
            "from the oldest record Kafka keeps, up to its end when the command starts. By "
            "default prints counts by reason and source topic and the latest rejections. "
            "--jsonl prints each dead letter as JSON; --originals prints the rejected events "
            "themselves, one per line, to fix and send again with `ccpulse produce` or to "
            "replay. Kafka from CCPULSE_KAFKA_BOOTSTRAP (and SASL/SSL variables)."
        ),
    )
    parser.add_argument("--config", metavar="PATH", help="configuration file (topic names)")
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="only dead letters written since WHEN: a duration back from now (90m, 2h) or an "
        "ISO-8601 time with offset",
    )
    parser.add_argument(
        "--reason",
        action="append",
        choices=REASONS,
        metavar="REASON",
        help=f"only this reason (repeatable): {', '.join(REASONS)}",
    )
    parser.add_argument(
        "--source", action="append", metavar="TOPIC", help="only from this topic (repeatable)"
    )
    parser.add_argument(
        "--latest", type=int, default=10, metavar="N", help="rejections listed in the summary"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--jsonl", action="store_true", help="one JSON object per dead letter")
    output.add_argument(
        "--originals", action="store_true", help="the rejected events' bytes, one per line"
    )
    parser.set_defaults(func=run)


def parse_since(text: str, now: Callable[[], float] = time.time) -> float:
    """A duration back from now (`90m`) or an ISO-8601 time, as epoch seconds."""
    try:
        return now() - parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_time(text, "--since")
    except UserError as error:
        if text[:1].isdigit() and text[-1:].isalpha() and len(text) < 8:  # meant a duration
            raise UserError(f"--since {text!r} is not a duration like 90s, 30m or 2h") from None
        raise error


def run(args: argparse.Namespace) -> int:
    from streams.adapters.dead_letter_reader import Unreadable, read_dead_letters
    from streams.live.environment import kafka_from_env

    settings = load_settings(args.config)
    kafka = kafka_from_env()
    since = parse_since(args.since) if args.since else None
    topic = settings.topics.dead_letter
    unreadable = Unreadable()
    letters = _selected(
        read_dead_letters(kafka, topic, since, unreadable), args.reason, args.source
    )
    out = sys.stdout.buffer
    if args.jsonl:
        asyncio.run(_write_jsonl(letters, out))
    elif args.originals:
        skipped = asyncio.run(_write_originals(letters, out))
        for problem, count in sorted(skipped.items()):
            print(
                f"ccpulse dead-letters: {count} original(s) not printed: {problem}", file=sys.stderr
            )
    else:
        summary = asyncio.run(_summary(letters, args.latest))
        out.write(render_summary(summary, topic, since).encode())
    out.flush()
    if unreadable.count:
        partition, offset = unreadable.first or (0, 0)
        print(
            f"ccpulse dead-letters: {unreadable.count} record(s) of {topic!r} are not dead "
            f"letters written by ccpulse (first at partition {partition}, offset {offset}); "
            "skipped",
            file=sys.stderr,
        )
    return 0


async def _selected(
    letters: AsyncIterator[DeadLetter],
    reasons: Iterable[str] | None,
    sources: Iterable[str] | None,
) -> AsyncIterator[DeadLetter]:
    wanted_reasons = set(reasons) if reasons else None
    wanted_sources = set(sources) if sources else None
    async for letter in letters:
        if wanted_reasons is not None and letter.reason not in wanted_reasons:
            continue
        if wanted_sources is not None and letter.source_topic not in wanted_sources:
            continue
        yield letter


async def _write_jsonl(letters: AsyncIterator[DeadLetter], out: BinaryIO) -> None:
    async for letter in letters:
        out.write(orjson.dumps(letter.as_json()) + b"\n")


async def _write_originals(letters: AsyncIterator[DeadLetter], out: BinaryIO) -> Counter:
    """Each original on its own line, exactly as received; what cannot be one line is
    counted instead."""
    skipped: Counter = Counter()
    async for letter in letters:
        if not letter.original:
            skipped["empty message (no value)"] += 1
        elif letter.original_truncated:
            skipped["cut to 512 KiB when dead-lettered (see --jsonl for the part kept)"] += 1
        elif b"\n" in letter.original or b"\r" in letter.original:
            skipped["contains a line break (see --jsonl)"] += 1
        else:
            out.write(letter.original + b"\n")
    return skipped


class Summary:
    def __init__(self, latest: int) -> None:
        self.total = 0
        self.by_reason: Counter = Counter()
        self.by_source: Counter = Counter()
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.keep = max(latest, 0)
        # The `keep` latest by rejection time (partitions are read in no particular order):
        # a min-heap whose root is the first to give way.
        self._latest: list[tuple[float, int, int, DeadLetter]] = []

    def add(self, letter: DeadLetter) -> None:
        self.total += 1
        self.by_reason[letter.reason] += 1
        self.by_source[letter.source_topic] += 1
        at = letter.rejected_at
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = at if self.last_at is None else max(self.last_at, at)
        entry = (at, letter.partition, letter.offset, letter)
        if len(self._latest) < self.keep:
            heapq.heappush(self._latest, entry)
        elif self.keep and entry[:3] > self._latest[0][:3]:
            heapq.heapreplace(self._latest, entry)

    @property
    def latest(self) -> list[DeadLetter]:
        """Oldest first."""
        return [entry[3] for entry in sorted(self._latest, key=lambda entry: entry[:3])]


async def _summary(letters: AsyncIterator[DeadLetter], latest: int) -> Summary:
    summary = Summary(latest)
    async for letter in letters:
        summary.add(letter)
    return summary


def render_summary(summary: Summary, topic: str, since: float | None) -> str:
    scope = f" since {_moment(since)}" if since is not None else ""
    if not summary.total:
        return f"{topic}: no dead letters{scope}\n"
    assert summary.first_at is not None and summary.last_at is not None
    lines = [
        f"{topic}: {summary.total:,} dead letter(s){scope}, rejected "
        f"{_moment(summary.first_at)} to {_moment(summary.last_at)}",
        f"  by reason: {_counts(summary.by_reason)}",
        f"  by source: {_counts(summary.by_source)}",
    ]
    if summary.latest:
        lines.append(f"latest {len(summary.latest)}:")
        for letter in summary.latest:
            source = f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}"
            lines.append(
                f"  {_moment(letter.rejected_at)}  {letter.reason}  {source}: {letter.detail}"
            )
            lines.append(f"      {_excerpt(letter.original)}")
    return "\n".join(lines) + "\n"


def _counts(counter: Counter) -> str:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {count:,}" for name, count in ranked)


def _moment(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _excerpt(original: bytes) -> str:
    """The start of the original on one line, control characters escaped."""
    text = original[: _EXCERPT_CHARS * 4].decode("utf-8", "backslashreplace")
    text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    if len(text) > _EXCERPT_CHARS:
        return text[:_EXCERPT_CHARS] + "..."
    return text or "(empty message)"
