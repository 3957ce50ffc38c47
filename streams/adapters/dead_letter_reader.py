"""Reading the dead-letter topic back: every record from a point in time up to the end the topic
had when reading began, so that a reader always finishes while workers keep writing."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streams.adapters.kafka_producer import start_kafka_client
from streams.errors import UserError
from streams.live.environment import KafkaConnection
from streams.live.preflight import start_admin


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    rejected_at: float
    original: bytes
    original_size: int
    original_truncated: bool
    key: bytes | None
    partition: int  # where the dead letter itself sits in the dead-letter topic
    offset: int

    def as_json(self) -> dict[str, Any]:
        """The dead letter with its original as text (undecodable bytes as backslash escapes)."""
        return {
            "reason": self.reason,
            "detail": self.detail,
            "source": {
                "topic": self.source_topic,
                "partition": self.source_partition,
                "offset": self.source_offset,
            },
            "rejected_at": self.rejected_at,
            "key": None if self.key is None else self.key.decode("utf-8", "backslashreplace"),
            "original": self.original.decode("utf-8", "backslashreplace"),
            "original_size": self.original_size,
            "original_truncated": self.original_truncated,
            "dead_letter": {"partition": self.partition, "offset": self.offset},
        }


def parse_dead_letter(
    value: bytes | None, key: bytes | None, partition: int, offset: int
) -> DeadLetter | None:
    """A record of the dead-letter topic as written by the worker, None for anything else
    (the topic is open to any producer)."""
    try:
        record = orjson.loads(value or b"")
        source = record["source"]
        return DeadLetter(
            reason=str(record["reason"]),
            detail=str(record["detail"]),
            source_topic=str(source["topic"]),
            source_partition=int(source["partition"]),
            source_offset=int(source["offset"]),
            rejected_at=float(record["rejected_at"]),
            original=base64.b64decode(record["original_base64"], validate=True),
            original_size=int(record["original_size"]),
            original_truncated=bool(record["original_truncated"]),
            key=key,
            partition=partition,
            offset=offset,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


@dataclass
class Unreadable:
    """Records of the topic that are not dead letters, by position (for the report)."""

    count: int = 0
    first: tuple[int, int] | None = None


async def read_dead_letters(
    kafka: KafkaConnection,
    topic: str,
    since: float | None,
    unreadable: Unreadable,
    idle_timeout: float = 30.0,
) -> AsyncIterator[DeadLetter]:
    """Yield the dead letters written at or after `since` (epoch seconds; None: all the topic
    still holds), in partition order within each fetch, until the end offsets taken at the
    start are reached."""
    partitions = [TopicPartition(topic, number) for number in await _partitions(kafka, topic)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka.aiokafka_kwargs(),
    )
    await start_kafka_client(consumer, kafka)
    try:
        async for letter in _read(
            consumer, kafka, topic, partitions, since, unreadable, idle_timeout
        ):
            yield letter
    except KafkaError as error:
        raise UserError(
            f"reading {topic!r} from Kafka at {kafka.redacted()} failed ({error!r}): check the "
            "broker, and that the CCPULSE_KAFKA_SASL_* user may read (describe) that topic"
        ) from None
    finally:
        await consumer.stop()


async def _read(
    consumer: AIOKafkaConsumer,
    kafka: KafkaConnection,
    topic: str,
    partitions: list[TopicPartition],
    since: float | None,
    unreadable: Unreadable,
    idle_timeout: float,
) -> AsyncIterator[DeadLetter]:
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    await _seek_to_start(consumer, partitions, ends, since)
    remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
    last_progress = time.monotonic()
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batches.items():
            for message in records:
                if message.offset >= ends[tp]:
                    break
                letter = parse_dead_letter(message.value, message.key, tp.partition, message.offset)
                if letter is None:
                    unreadable.count += 1
                    unreadable.first = unreadable.first or (tp.partition, message.offset)
                    continue
                yield letter
        if batches:
            last_progress = time.monotonic()
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
        if remaining and time.monotonic() - last_progress > idle_timeout:
            raise UserError(
                f"reading {topic!r} from Kafka at {kafka.redacted()} made no progress for "
                f"{idle_timeout:g} s: check the broker's health"
            )


async def _partitions(kafka: KafkaConnection, topic: str) -> list[int]:
    admin = await start_admin(kafka, timeout=15.0)
    try:
        if topic not in set(await admin.list_topics()):
            raise UserError(
                f"Kafka at {kafka.redacted()} has no topic {topic!r}: no worker has "
                "dead-lettered anything there yet, the worker writes to another one "
                "(topics.dead_letter in the config file; pass the worker's --config), or the "
                "Kafka user may not see it"
            )
        (description,) = await admin.describe_topics([topic])
        return sorted(partition["partition"] for partition in description["partitions"])
    finally:
        await admin.close()


async def _seek_to_start(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    ends: dict[TopicPartition, int],
    since: float | None,
) -> None:
    if since is None:
        await consumer.seek_to_beginning(*partitions)
        return
    found = await consumer.offsets_for_times({tp: int(since * 1000) for tp in partitions})
    for tp in partitions:
        at = found.get(tp)
        consumer.seek(tp, at.offset if at is not None else ends[tp])
