"""`ccpulse produce FILE`: send a JSONL file (or stdin) to the event topics, keyed right."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from typing import BinaryIO

from streams.config import load_settings
from streams.errors import UserError

_MAX_REPORTED = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "produce",
        help="send a JSONL file of events to Kafka (call events keyed by queue, agent.state by "
        "agent_id)",
        description=(
            "Each line goes to the topic of its `type`, keyed by `queue` (call events) or "
            "`agent_id` (agent.state). A line of a known type is sent even if otherwise "
            "invalid (the worker dead-letters it with the reason); lines that are not JSON "
            "objects or have no known type are reported and not sent (exit 1). With "
            "--raw-topic every line is sent unchanged to that topic, e.g. to exercise the "
            "dead-letter path. Kafka from CCPULSE_KAFKA_BOOTSTRAP (and SASL/SSL variables)."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="JSONL file, or - for standard input")
    parser.add_argument("--config", metavar="PATH", help="configuration file (topic names)")
    parser.add_argument(
        "--raw-topic", metavar="TOPIC", help="send every line as-is to TOPIC (no routing)"
    )
    parser.add_argument("--key", help="message key for --raw-topic (default: none)")
    parser.set_defaults(func=run)


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(handle, start=1):
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def run(args: argparse.Namespace) -> int:
    from streams.live.environment import kafka_from_env

    settings = load_settings(args.config)
    kafka = kafka_from_env()
    if args.key is not None and args.raw_topic is None:
        raise UserError("--key only applies with --raw-topic")
    if args.file == "-":
        return asyncio.run(_produce(sys.stdin.buffer, settings, kafka, args))
    try:
        with open(args.file, "rb") as handle:
            return asyncio.run(_produce(handle, settings, kafka, args))
    except FileNotFoundError:
        raise UserError(f"{args.file}: no such file") from None


async def _produce(handle: BinaryIO, settings, kafka, args: argparse.Namespace) -> int:
    from streams.adapters.kafka_producer import (
        Unroutable,
        route_event,
        send_all,
        start_producer,
    )

    topics = settings.topics.by_event_type()
    sent_by_topic: Counter = Counter()
    refused: Counter = Counter()

    def records() -> Iterator[tuple[str, bytes | None, bytes]]:
        raw_key = args.key.encode() if args.key is not None else None
        for number, line in _lines(handle):
            if args.raw_topic:
                sent_by_topic[args.raw_topic] += 1
                yield args.raw_topic, raw_key, line
                continue
            route = route_event(line, topics)
            if isinstance(route, Unroutable):
                refused[route.reason] += 1
                if sum(refused.values()) <= _MAX_REPORTED:
                    print(
                        f"{args.file}:{number}: not sent ({route.reason}): {route.detail}",
                        file=sys.stderr,
                    )
                continue
            sent_by_topic[route.topic] += 1
            yield route.topic, route.key, line

    producer = await start_producer(kafka)
    try:
        total = await send_all(producer, records())
    finally:
        await producer.stop()
    summary = ", ".join(f"{topic}: {n}" for topic, n in sorted(sent_by_topic.items()))
    print(f"sent {total} messages ({summary or 'none'})", file=sys.stderr)
    if refused:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(refused.items()))
        print(
            f"{sum(refused.values())} lines not sent ({reasons}); use --raw-topic TOPIC to send "
            "lines unchanged",
            file=sys.stderr,
        )
        return 1
    return 0
