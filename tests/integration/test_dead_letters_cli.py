"""`ccpulse dead-letters` against a real broker: summary, filters, --since, originals."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from live_support import CCPULSE, write_config

from streams.live.deadletter import SourcePosition, dead_letter_value

HOUR = 3600.0


def dead_letters(config: Path, bootstrap: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CCPULSE, "dead-letters", "--config", str(config), *args],
        env={"CCPULSE_KAFKA_BOOTSTRAP": bootstrap, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=90,
        check=False,
    )


async def write_topic(bootstrap: str, topic: str, records: list[tuple[float, bytes]]) -> None:
    """(Kafka timestamp, value) records, spread over the topic's three partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for index, (at, value) in enumerate(records):
            await producer.send_and_wait(
                topic, value, key=b"sales", partition=index % 3, timestamp_ms=int(at * 1000)
            )
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def dead_letter_topic(kafka_bootstrap, tmp_path_factory):
    """A dead-letter topic with two old and four recent dead letters and one foreign record."""
    prefix = f"dl-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path_factory.mktemp("dl") / "ccpulse.toml", prefix)
    now = time.time()
    letters = [
        (
            now - 2 * HOUR,
            b'{"type":"call.offered","ts":"then"}',
            "invalid_field",
            "cc.call.offered",
        ),
        (now - 2 * HOUR, b"\xff not json", "invalid_json", "cc.call.offered"),
        (now - 60, b'{"type":"call.teleported"}', "unknown_type", "cc.call.offered"),
        (now - 50, b'{"type":"call.answered","ts":1}', "late", "cc.call.answered"),
        (now - 40, b'{"type":"agent.state",\n"ts":1}', "late", "cc.agent.state"),
        (now - 30, b'{"type":"call.offered","ts":2}', "late", "cc.call.offered"),
    ]
    records = [
        (at, dead_letter_value(original, reason, f"{reason} here", SourcePosition(topic, 1, n), at))
        for n, (at, original, reason, topic) in enumerate(letters)
    ]
    records.append((now - 20, b"someone else's record"))
    asyncio.run(write_topic(kafka_bootstrap, f"{prefix}.dead-letter", records))
    return config, letters


def test_summary_counts_and_lists_the_latest(kafka_bootstrap, dead_letter_topic):
    config, _ = dead_letter_topic
    result = dead_letters(config, kafka_bootstrap, "--latest", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert ".dead-letter: 6 dead letter(s), rejected " in lines[0]
    assert lines[1] == "  by reason: late 3, invalid_field 1, invalid_json 1, unknown_type 1"
    assert lines[2] == "  by source: cc.call.offered 4, cc.agent.state 1, cc.call.answered 1"
    assert lines[3] == "latest 2:"
    assert lines[4].endswith("  late  cc.agent.state[1]@4: late here")
    assert lines[5].strip() == '{"type":"agent.state",\\n"ts":1}'
    assert lines[6].endswith("  late  cc.call.offered[1]@5: late here")
    assert b"1 record(s)" in result.stderr and b"not dead letters" in result.stderr


def test_jsonl_since_a_duration(kafka_bootstrap, dead_letter_topic):
    config, letters = dead_letter_topic
    result = dead_letters(config, kafka_bootstrap, "--since", "1h", "--jsonl")
    assert result.returncode == 0, result.stderr
    found = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert sorted((item["rejected_at"], item["reason"], item["original"]) for item in found) == [
        (at, reason, original.decode()) for at, original, reason, _ in letters[2:]
    ]
    (teleported,) = [item for item in found if item["reason"] == "unknown_type"]
    assert teleported["source"] == {"topic": "cc.call.offered", "partition": 1, "offset": 2}
    assert teleported["key"] == "sales"


def test_originals_of_one_reason_are_the_bytes_received(kafka_bootstrap, dead_letter_topic):
    config, letters = dead_letter_topic
    result = dead_letters(config, kafka_bootstrap, "--reason", "late", "--originals")
    assert result.returncode == 0, result.stderr
    # The agent.state with a line break cannot be one line: counted, not printed.
    expected = [original for _, original, reason, _ in letters if reason == "late"]
    assert sorted(result.stdout.splitlines()) == sorted(o for o in expected if b"\n" not in o)
    assert b"1 original(s) not printed: contains a line break" in result.stderr


def test_source_filter_and_an_empty_selection(kafka_bootstrap, dead_letter_topic):
    config, _ = dead_letter_topic
    result = dead_letters(config, kafka_bootstrap, "--source", "cc.call.answered", "--jsonl")
    assert [orjson.loads(line)["reason"] for line in result.stdout.splitlines()] == ["late"]
    result = dead_letters(
        config, kafka_bootstrap, "--since", "2026-01-01T00:00:00Z", "--reason", "future"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().endswith(
        "dead-letter: no dead letters since 2026-01-01T00:00:00Z\n"
    )


def test_a_missing_topic_names_the_setting(kafka_bootstrap, tmp_path):
    config = write_config(tmp_path / "ccpulse.toml", f"none-{uuid.uuid4().hex[:8]}")
    result = dead_letters(config, kafka_bootstrap)
    assert result.returncode == 2
    message = result.stderr.decode()
    assert message.startswith("ccpulse dead-letters: error: Kafka at ")
    assert "has no topic" in message and "topics.dead_letter" in message
    assert "Traceback" not in message
