"""Bad input reaches the dead-letter topic with its reason, original bytes and source position,
is counted in ccpulse_events_rejected_total, and the worker keeps going."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from helpers import wait_until
from live_support import WorkerProcess, redis_snapshot, run_ccpulse, write_config
from prometheus_client.parser import text_string_to_metric_families

from streams.live.deadletter import decode_dead_letter
from streams.services import free_ports


def rejected_counts(text: str) -> dict[str, float]:
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ccpulse_events_rejected_total"
    }


async def send(bootstrap: str, records: list[tuple[str, bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found += records
    finally:
        await consumer.stop()
    return found


@pytest.fixture
def ready_worker(tmp_path, kafka_bootstrap, start_redis):
    """start(prefix): a ready worker on topics `<prefix>.*` with a redis-server of its own, and a
    client of that server; every worker started is stopped after the test."""
    started: list[WorkerProcess] = []

    def start(prefix: str) -> tuple[WorkerProcess, redis.Redis]:
        server = start_redis()
        config = write_config(tmp_path / f"{prefix}.toml", prefix)
        (port,) = free_ports(1)
        worker = WorkerProcess(
            tmp_path / prefix, config, kafka_bootstrap, server.url, f"{prefix}-app", port
        )
        started.append(worker.start())
        wait_until(worker.ready, timeout=60, message="worker ready")
        return worker, redis.Redis.from_url(server.url)

    yield start
    for worker in started:
        worker.stop()


def wait_one_call_waiting(client: redis.Redis, queue: str, after: str) -> None:
    """The valid offer sent after the bad input was applied: one call waits in `queue`."""
    wait_until(
        lambda: (
            (redis_snapshot(client) or {}).get("queues", {}).get(queue, {}).get("calls_waiting")
            == 1
        ),
        timeout=30,
        message=f"valid event after {after} applied",
    )


def test_garbage_wrong_types_and_unknown_types_are_dead_lettered(kafka_bootstrap, ready_worker):
    worker, client = ready_worker("bad")
    now = time.time()

    def event(**fields: object) -> bytes:
        return orjson.dumps({"event_id": f"ev-{len(fields)}-{fields}", "ts": now - 5, **fields})

    offered = event(type="call.offered", call_id="c1", queue="sales")
    bad = [
        ("bad.call.offered", b"sales", b"\xff\xfe not json at all", "invalid_json"),
        ("bad.call.offered", b"sales", b"[1, 2, 3]", "invalid_json"),
        ("bad.call.offered", b"sales", b'{"type": "call.teleported"}', "unknown_type"),
        (
            "bad.call.answered",
            b"sales",
            event(type="call.answered", call_id="c1", queue="sales", wait_seconds="soon"),
            "invalid_field",
        ),
        (
            "bad.call.abandoned",
            b"sales",
            event(type="call.abandoned", call_id="c2", queue="sales", wait_seconds=-3),
            "invalid_field",
        ),
        (
            "bad.call.offered",
            b"sales",
            event(type="agent.state", agent_id="a1", state="available", queues=["sales"]),
            "invalid_field",
        ),
        (
            "bad.agent.state",
            b"a1",
            event(type="agent.state", agent_id="a1", state="dancing", queues=["sales"]),
            "invalid_field",
        ),
        (
            "bad.call.offered",
            b"sales",
            orjson.dumps(
                {
                    "type": "call.offered",
                    "event_id": "f1",
                    "ts": now + 3600,
                    "call_id": "c3",
                    "queue": "sales",
                }
            ),
            "future",
        ),
        (
            "bad.call.offered",
            b"sales",
            orjson.dumps(
                {
                    "type": "call.offered",
                    "event_id": "l1",
                    "ts": now - 3600,
                    "call_id": "c4",
                    "queue": "sales",
                }
            ),
            "late",
        ),
    ]
    asyncio.run(
        send(
            kafka_bootstrap,
            [(topic, key, value) for topic, key, value, _ in bad]
            + [("bad.call.offered", b"sales", offered)],
        )
    )
    letters = asyncio.run(read_topic(kafka_bootstrap, "bad.dead-letter", len(bad)))
    assert len(letters) == len(bad)
    decoded = [(decode_dead_letter(record.value), record.key) for record in letters]
    by_original = {letter["original"]: (letter, key) for letter, key in decoded}
    for topic, key, value, reason in bad:
        letter, letter_key = by_original[value]
        assert letter["reason"] == reason, letter
        assert letter["detail"]
        assert letter["source"]["topic"] == topic
        assert letter["source"]["offset"] >= 0
        assert letter_key == key

    def counted() -> bool:
        counts = rejected_counts(worker.metrics_text())
        return counts == {
            "invalid_json": 2,
            "unknown_type": 1,
            "invalid_field": 4,
            "future": 1,
            "late": 1,
        }

    wait_until(counted, timeout=30, message="rejections counted in /metrics")
    wait_one_call_waiting(client, "sales", after="bad ones")
    worker.assert_running()

    # What an operator reads back: the same dead letters, and the events' own bytes.
    env = {"CCPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap}
    summary = run_ccpulse("dead-letters", "--config", str(worker.config), env=env)
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.splitlines()[1] == (
        "  by reason: invalid_field 4, invalid_json 2, future 1, late 1, unknown_type 1"
    )
    exported = run_ccpulse("dead-letters", "--config", str(worker.config), "--jsonl", env=env)
    assert sorted(
        (item["reason"], item["source"]["topic"], item["original"])
        for item in map(orjson.loads, exported.stdout.splitlines())
    ) == sorted(
        (reason, topic, value.decode("utf-8", "backslashreplace"))
        for topic, _, value, reason in bad
    )


def test_huge_bad_message_is_dead_lettered_and_the_worker_keeps_going(
    kafka_bootstrap, ready_worker
):
    # 600 kB of `type`: the dead-letter record once quoted it in `detail` beside the base64
    # original (1.3 MB), the broker refused it and the worker stopped (then, restarted, read
    # the same message again).
    worker, client = ready_worker("huge")
    now = time.time()
    huge = orjson.dumps({"type": "x" * 600_000, "event_id": "h1", "ts": now - 5})
    offered = orjson.dumps(
        {"type": "call.offered", "event_id": "h2", "ts": now - 4, "call_id": "c1", "queue": "q"}
    )
    asyncio.run(
        send(
            kafka_bootstrap,
            [("huge.call.offered", b"q", huge), ("huge.call.offered", b"q", offered)],
        )
    )
    (letter,) = asyncio.run(read_topic(kafka_bootstrap, "huge.dead-letter", 1))
    decoded = decode_dead_letter(letter.value)
    assert decoded["reason"] == "unknown_type"
    assert decoded["original_size"] == len(huge)
    wait_one_call_waiting(client, "q", after="the huge bad one")
    worker.assert_running()
