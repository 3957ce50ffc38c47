"""The live batch processor without Kafka: what it dead-letters and routes for given messages."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from streams.config import Settings
from streams.kpi.engine import Engine
from streams.live.deadletter import decode_dead_letter
from streams.live.processor import BatchProcessor, partition_for_key
from streams.live.table_state import PartitionCursor

# Kafka's default limit for one record batch (broker `message.max.bytes`, 1048588 bytes) and
# aiokafka's default `max_request_size` (1048576): a dead-letter record bigger than that is
# refused by the broker, the worker's delivery check crashes the worker, and the restart
# reads the same input again.
KAFKA_DEFAULT_MESSAGE_LIMIT = 1_000_000
NOW = 1_795_000_000.0


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def processor() -> BatchProcessor:
    settings = Settings()
    return BatchProcessor(
        Engine(settings), settings, "ccpulse-agent-scope", PartitionCursor(), clock=lambda: NOW
    )


def on_its_partition(topic: str, key: bytes, value: bytes, offset: int = 0) -> Message:
    return Message(topic, partition_for_key(key, Settings().partitions), offset, key, value)


def test_dead_letter_of_a_huge_unknown_type_fits_a_kafka_message():
    # A 600 kB `type`: the rejection detail used to quote it whole, beside the base64 original.
    value = orjson.dumps({"type": "x" * 600_000, "event_id": "e1", "ts": NOW})
    (record,) = processor().process([on_its_partition("cc.call.offered", b"sales", value)])
    assert record.topic == "cc.dead-letter"
    assert len(record.value) + len(record.key or b"") < KAFKA_DEFAULT_MESSAGE_LIMIT
    letter = decode_dead_letter(record.value)
    assert letter["reason"] == "unknown_type"
    assert letter["detail"].startswith("unknown event type 'xxx")
    assert letter["original"] == value[: len(letter["original"])]
    assert letter["original_size"] == len(value)


def test_dead_letter_of_a_huge_invalid_field_fits_a_kafka_message():
    value = orjson.dumps(
        {
            "type": "call.answered",
            "event_id": "e2",
            "ts": NOW,
            "call_id": "c1",
            "queue": "sales",
            "agent_id": "a1",
            "wait_seconds": "y" * 700_000,
        }
    )
    (record,) = processor().process([on_its_partition("cc.call.answered", b"sales", value)])
    assert len(record.value) + len(record.key or b"") < KAFKA_DEFAULT_MESSAGE_LIMIT
    letter = decode_dead_letter(record.value)
    assert letter["reason"] == "invalid_field"
    assert "wait_seconds" in letter["detail"]
    assert letter["source"]["topic"] == "cc.call.answered"


def test_dead_letter_of_a_message_with_a_huge_key_fits_a_kafka_message():
    # Key and value together are within Kafka's limit on the way in; the dead-letter record
    # (the value grows by a third in base64) must not go over it on the way out.
    key = b"k" * 600_000
    message = Message("cc.call.offered", 0, 7, key, b"not json" * 40_000)
    (record,) = processor().process([message])
    assert len(record.value) + len(record.key or b"") < KAFKA_DEFAULT_MESSAGE_LIMIT
    assert decode_dead_letter(record.value)["reason"] == "invalid_json"


def test_dead_letter_keeps_reason_detail_source_and_original_bytes():
    value = b"\xff\xfe not json"
    message = Message("cc.call.offered", 2, 41, b"sales", value)
    (record,) = processor().process([message])
    assert record.key == b"sales"
    letter = decode_dead_letter(record.value)
    assert letter["reason"] == "invalid_json"
    assert letter["detail"]
    assert letter["source"] == {"topic": "cc.call.offered", "partition": 2, "offset": 41}
    assert letter["original"] == value
    assert letter["original_size"] == len(value)
    assert letter["original_truncated"] is False


def test_a_call_event_on_another_partition_than_its_queues_is_dead_lettered_with_the_fix():
    """Kafka orders a queue's events only within its partition, and the worker that owns the
    partition holds the queue's state: a call event keyed by something else (or sent with
    another partitioner) is refused, naming the fix."""
    partitions = Settings().partitions
    right = partition_for_key(b"sales", partitions)
    wrong = (right + 1) % partitions
    value = orjson.dumps(
        {"type": "call.offered", "event_id": "e1", "ts": NOW, "call_id": "c1", "queue": "sales"}
    )
    work = processor()
    (record,) = work.process([Message("cc.call.offered", wrong, 0, b"c1", value)])
    letter = decode_dead_letter(record.value)
    assert letter["reason"] == "invalid_field"
    assert f"is on partition {wrong}, but its queue's partition is {right}" in letter["detail"]
    assert "key call events by their queue" in letter["detail"]
    assert work.process([Message("cc.call.offered", right, 1, b"sales", value)]) == []
    assert work.engine.stats.accepted == 1


def test_an_agent_state_on_a_call_topic_is_dead_lettered_naming_its_topic():
    value = orjson.dumps(
        {
            "type": "agent.state",
            "event_id": "s1",
            "ts": NOW,
            "agent_id": "a1",
            "state": "available",
            "queues": ["sales"],
            "team": "north",
        }
    )
    (record,) = processor().process([on_its_partition("cc.call.offered", b"sales", value)])
    letter = decode_dead_letter(record.value)
    assert letter["reason"] == "invalid_field"
    assert "send it to 'cc.agent.state'" in letter["detail"]
