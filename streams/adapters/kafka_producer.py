"""Sending events to their Kafka topics with the keys the worker relies on.

Call events are keyed by queue (their topics are co-partitioned by it) and `agent.state` by
agent_id; the default partitioner (murmur2, as in Java) then puts a queue on the same partition
number in every call topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.adapters.tls_diagnosis import kafka_tls_problem
from streams.errors import UserError
from streams.live.environment import KafkaConnection


@dataclass(frozen=True, slots=True)
class Route:
    topic: str
    key: bytes | None


@dataclass(frozen=True, slots=True)
class Unroutable:
    reason: str  # "invalid_json" | "invalid_field" (no string `type`) | "unknown_type"
    detail: str


def route_event(raw: bytes, topics: dict[str, str]) -> Route | Unroutable:
    """Where one event goes. Events of a known type go to their topic even if invalid (the
    worker dead-letters them with the reason); only lines without a known type are refused."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return Unroutable("invalid_json", f"not JSON: {error}")
    if not isinstance(document, dict):
        return Unroutable("invalid_json", f"not a JSON object but a {type(document).__name__}")
    event_type = document.get("type")
    if not isinstance(event_type, str):
        return Unroutable("invalid_field", f"field 'type' missing or not a string: {event_type!r}")
    topic = topics.get(event_type)
    if topic is None:
        return Unroutable("unknown_type", f"unknown event type {event_type!r}")
    key_field = "agent_id" if event_type == "agent.state" else "queue"
    key = document.get(key_field)
    return Route(topic, key.encode() if isinstance(key, str) and key else None)


def make_producer(kafka: KafkaConnection, **overrides: object) -> AIOKafkaProducer:
    options: dict = {
        "bootstrap_servers": kafka.servers,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "acks": "all",
        "enable_idempotence": True,
        **kafka.aiokafka_kwargs(),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def start_producer(kafka: KafkaConnection, timeout: float = 15.0, **overrides: object):
    producer = make_producer(kafka, **overrides)
    await start_kafka_client(producer, kafka, timeout)
    return producer


async def start_kafka_client(client: Any, kafka: KafkaConnection, timeout: float = 15.0) -> None:
    """Start an aiokafka producer or consumer; a one-line UserError naming the fix if Kafka
    cannot be reached or the TLS set-up is wrong."""
    try:
        await asyncio.wait_for(client.start(), timeout)
    except (KafkaError, OSError, TimeoutError) as error:
        await client.stop()
        problem = await kafka_tls_problem(kafka)
        if problem is not None:
            raise UserError(problem) from None
        raise UserError(
            f"cannot reach Kafka at {kafka.redacted()} ({type(error).__name__}): start the "
            "broker or set CCPULSE_KAFKA_BOOTSTRAP"
        ) from None


async def send_all(
    producer: AIOKafkaProducer, records: Iterable[tuple[str, bytes | None, bytes]]
) -> int:
    """Send (topic, key, value) records, waiting for every delivery; returns the count."""
    pending: list[asyncio.Future] = []
    count = 0
    for topic, key, value in records:
        pending.append(await producer.send(topic, value, key=key))
        count += 1
        if len(pending) >= 10_000:
            await asyncio.gather(*pending)
            pending.clear()
    if pending:
        await asyncio.gather(*pending)
    return count
