"""Offline replay: feed JSONL lines through the same engine the live worker runs."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.config import Settings
from streams.kpi.decode import decode_batch
from streams.kpi.engine import Engine
from streams.kpi.events import Event, Rejection

FIRST_LINES_KEPT = 5
# Lines fed to the engine at a time: its tallies are folded once per batch, as live.
BATCH_LINES = 4096


@dataclass
class ReplayResult:
    snapshot: dict[str, Any]
    as_of: float
    rejected: Counter = field(default_factory=Counter)
    rejected_lines: dict[str, list[int]] = field(default_factory=dict)
    ignored_after_at: int = 0
    engine: Engine | None = None


def replay_lines(
    lines: Iterable[bytes | str],
    settings: Settings,
    at: float | None = None,
    on_line: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Feed `lines` in order (blank lines are skipped) and snapshot at `at`, or at the first
    bucket boundary after the newest accepted event. Lines with `ts >= at` are not fed."""
    engine = Engine(settings)
    rejected: Counter = Counter()
    rejected_lines: dict[str, list[int]] = {}
    ignored = 0
    # Lines are decoded BATCH_LINES at a time with one compiled call (decode_batch), and the
    # events kept (those before `at`) fed BATCH_LINES at a time: the engine's batches hold the
    # same events as when each line was decoded on its own, and a batch's events are folded
    # together, so the float sums stay the same to the bit.
    read: list[bytes | str] = []
    read_numbers: list[int] = []
    batch: list[Event | Rejection] = []
    numbers: list[int] = []

    def feed() -> None:
        for number, outcome in zip(numbers, engine.process_many(batch), strict=True):
            if outcome.status == "rejected":
                rejected[outcome.reason] += 1
                kept = rejected_lines.setdefault(outcome.reason, [])
                if len(kept) < FIRST_LINES_KEPT:
                    kept.append(number)
        batch.clear()
        numbers.clear()

    def decode() -> None:
        nonlocal batch, numbers, ignored
        items = decode_batch(read)
        if at is None:
            # Every line is fed: these are the next batch (the last one may be shorter).
            batch, numbers = items, read_numbers.copy()
            if len(batch) == BATCH_LINES:
                feed()
        else:
            for number, item in zip(read_numbers, items, strict=True):
                if not isinstance(item, Rejection) and item.ts >= at:
                    ignored += 1
                    continue
                batch.append(item)
                numbers.append(number)
                if len(batch) == BATCH_LINES:
                    feed()
        read.clear()
        read_numbers.clear()

    for number, line in enumerate(lines, start=1):
        if on_line is not None:
            on_line(number)
        if not line.strip():
            continue
        read.append(line)
        read_numbers.append(number)
        if len(read) == BATCH_LINES:
            decode()
    decode()
    feed()
    as_of = at if at is not None else default_as_of(engine)
    return ReplayResult(engine.snapshot(as_of), as_of, rejected, rejected_lines, ignored, engine)


def default_as_of(engine: Engine) -> float:
    """The first bucket boundary strictly after the newest accepted event."""
    size = engine.settings.bucket_seconds
    newest = engine.max_ts if engine.stats.accepted else time.time()
    return (int(newest // size) + 1) * size
