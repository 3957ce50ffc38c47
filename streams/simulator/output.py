"""Where simulated events go: JSONL to a file or stdout, or Kafka; paced or as fast as possible."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from streams.config import Topics
from streams.simulator.badlines import BadLines
from streams.simulator.ledger import Ledger

_NEWLINE = orjson.OPT_APPEND_NEWLINE
# Sleeping for less than this costs more than it keeps the pace.
_MIN_SLEEP = 0.005


@dataclass
class Counts:
    events: int = 0
    bad_lines: int = 0


class Pacer:
    """Maps simulated time to the wall clock: event at `moment` is due at
    `wall_start + (moment - start_ms) / 1000 / speed`. `speed=None`: never wait."""

    def __init__(self, start_ms: int, speed: float | None) -> None:
        self.start_ms = start_ms
        self.speed = speed
        self.wall_start = time.monotonic()

    def delay(self, moment: int) -> float:
        if self.speed is None:
            return 0.0
        due = self.wall_start + (moment - self.start_ms) / 1000 / self.speed
        return due - time.monotonic()


def write_lines(
    items: Iterable[tuple[int, dict[str, Any]]],
    handle: BinaryIO,
    pacer: Pacer,
    bad: BadLines | None = None,
    ledger: Ledger | None = None,
) -> Counts:
    """One JSON object per line. Paced output is flushed before every wait so that a reader
    (`tail -f`, a pipe) sees events when they are due."""
    counts = Counts()
    write = handle.write
    dumps = orjson.dumps
    paced = pacer.speed is not None
    for moment, event in items:
        if paced:
            delay = pacer.delay(moment)
            if delay > _MIN_SLEEP:
                handle.flush()
                time.sleep(delay)
        if bad is not None:
            broken = bad.before(event)
            if broken is not None:
                write(broken[0] + b"\n")
                counts.bad_lines += 1
                if ledger is not None:
                    ledger.bad_lines.append((moment, broken[1]))
        write(dumps(event, option=_NEWLINE))
        counts.events += 1
    handle.flush()
    return counts


def key_of(event: dict[str, Any]) -> bytes:
    """Call events are keyed by queue (co-partitioned call topics), agent states by agent."""
    key = event["agent_id"] if event["type"] == "agent.state" else event["queue"]
    return key.encode()


async def send_to_kafka(
    items: Iterable[tuple[int, dict[str, Any]]],
    producer: Any,
    topics: Topics,
    pacer: Pacer,
    bad: BadLines | None = None,
    ledger: Ledger | None = None,
    stop: asyncio.Event | None = None,
) -> Counts:
    """Send every event to its topic with its key (value = the JSON bytes). A bad line goes
    to the topic and key of the event it precedes, where the worker must dead-letter it.
    Setting `stop` ends the run early; what was sent is still flushed."""
    counts = Counts()
    dumps = orjson.dumps
    pending: list[asyncio.Future] = []
    stop = stop or asyncio.Event()
    topic_of = topics.by_event_type()
    for moment, event in items:
        delay = pacer.delay(moment)
        if delay > _MIN_SLEEP:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            break
        topic = topic_of[event["type"]]
        key = key_of(event)
        if bad is not None:
            broken = bad.before(event)
            if broken is not None:
                pending.append(await producer.send(topic, broken[0], key=key))
                counts.bad_lines += 1
                if ledger is not None:
                    ledger.bad_lines.append((moment, broken[1]))
        pending.append(await producer.send(topic, dumps(event), key=key))
        counts.events += 1
        if len(pending) >= 10_000:
            await asyncio.gather(*pending)  # surface delivery errors, bound memory
            pending.clear()
    await producer.flush()
    await asyncio.gather(*pending)
    return counts
