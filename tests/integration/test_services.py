"""The project's own local services really work: Kafka carries messages, Redis stores values
and checks passwords, Prometheus scrapes, and `ccpulse services` starts and stops them from
separate processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from helpers import wait_until
from redis.backoff import NoBackoff
from redis.retry import Retry

from streams.services import KafkaBroker, RedisServer, free_ports
from streams.services.process import pid_alive, pid_cmdline, port_accepts
from streams.services.registry import read_record

pytestmark = pytest.mark.integration


def _topic() -> str:
    return f"test.services.{uuid.uuid4().hex[:8]}"


async def test_kafka_round_trip_through_a_consumer_group(kafka_bootstrap: str) -> None:
    topic = _topic()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b'{"type":"call.offered"}', key=b"sales")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"group-{topic}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        # getone has no deadline of its own; the group join plus fetch must finish within 30 s.
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, message.partition))
    finally:
        await consumer.stop()

    assert (message.topic, message.partition, message.offset) == (
        sent.topic,
        sent.partition,
        sent.offset,
    )
    assert message.key == b"sales"
    assert message.value == b'{"type":"call.offered"}'
    assert committed == sent.offset + 1


async def test_kafka_auto_created_topic_gets_the_workers_partition_count(
    kafka_broker: KafkaBroker,
) -> None:
    # A producer (e.g. the simulator) may run before the worker declares its topics; the
    # topic it auto-creates must have the partition count the co-partitioned topics need.
    topic = _topic()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x", key=b"sales")
        partitions = await producer.partitions_for(topic)
    finally:
        await producer.stop()
    assert len(partitions) == kafka_broker.partitions == 4


def test_kafka_restart_keeps_data_and_does_not_reformat(tmp_path: Path) -> None:
    port, controller_port = free_ports(2)
    broker = KafkaBroker(tmp_path / "kafka", port=port, controller_port=controller_port)
    topic = _topic()

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"kept", partition=0)
        finally:
            await producer.stop()

    async def end_offset() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        try:
            partition = TopicPartition(topic, 0)
            return (await consumer.end_offsets([partition]))[partition]
        finally:
            await consumer.stop()

    with broker:
        asyncio.run(produce())
    meta = (tmp_path / "kafka" / "data" / "meta.properties").read_text()
    assert not port_accepts("127.0.0.1", port), "broker still listening after stop()"

    with broker:
        assert asyncio.run(end_offset()) == 1
    assert (tmp_path / "kafka" / "data" / "meta.properties").read_text() == meta


def test_redis_set_get(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        client.set("ccpulse:test:services", "ok")
        assert client.get("ccpulse:test:services") == b"ok"
        # No persistence: nothing would survive a restart anyway, and nothing is written.
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
    finally:
        client.close()


def test_redis_password_right_works_wrong_fails_fast(start_redis) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    server = start_redis(password=password)

    right = redis.Redis(host=server.host, port=server.port, password=password, socket_timeout=2)
    assert right.ping() is True
    right.close()

    # The server rejects at once; the client must not retry (redis-py's default Retry treats
    # AuthenticationError as a ConnectionError and backs off for ~4 s before giving up).
    wrong = redis.Redis(
        host=server.host,
        port=server.port,
        password="nope",
        socket_timeout=2,
        retry=Retry(NoBackoff(), 0),
    )
    began = time.monotonic()
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    assert time.monotonic() - began < 0.5
    wrong.close()

    anonymous = redis.Redis(
        host=server.host, port=server.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    with pytest.raises(redis.AuthenticationError):
        anonymous.set("k", "v")
    anonymous.close()

    # The secret went in on stdin: not in the process list, not in any file of the data dir.
    assert server.pid is not None
    assert password not in pid_cmdline(server.pid)
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert "***" in server.display_url and password not in server.display_url


def test_redis_stop_frees_the_port_and_writes_its_pidfile(start_redis) -> None:
    server: RedisServer = start_redis()
    pid = server.pid
    assert pid is not None
    assert server.pidfile.read_text().strip() == str(pid)
    server.stop()
    assert not pid_alive(pid)
    assert not port_accepts(server.host, server.port)
    server.stop()  # a second stop is harmless


def test_a_busy_port_is_refused_before_anything_starts(redis_server: RedisServer, tmp_path) -> None:
    from streams.services import ServiceError

    clash = RedisServer(tmp_path / "clash", port=redis_server.port)
    with pytest.raises(ServiceError, match=f"port {redis_server.port}.*already in use"):
        clash.start()
    assert clash.pid is None


def test_prometheus_starts_ready_and_scrapes_itself(start_prometheus, tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    # The server scrapes its own /metrics; the port is only known after start, so the target
    # is filled in and the config reloaded through the lifecycle API.
    config.write_text("global:\n  scrape_interval: 1s\nscrape_configs: []\n")
    server = start_prometheus(config)
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: self\n    static_configs:\n"
        f"      - targets: ['{server.address}']\n"
    )
    server.reload()
    result = wait_until(
        lambda: server.query('up{job="self"} == 1'),
        timeout=20,
        message="prometheus scraping itself",
    )
    assert result[0]["metric"]["instance"] == server.address


def _ccpulse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "services", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def test_cli_start_status_stop_across_processes(tmp_path: Path) -> None:
    kafka_port, controller_port, redis_port = free_ports(3)
    env = {
        **os.environ,
        "CCPULSE_VAR_DIR": str(tmp_path / "var"),
        "CCPULSE_KAFKA_PORT": str(kafka_port),
        "CCPULSE_KAFKA_CONTROLLER_PORT": str(controller_port),
        "CCPULSE_REDIS_PORT": str(redis_port),
    }
    env.pop("CCPULSE_REDIS_PASSWORD", None)
    run_dir = tmp_path / "var" / "run"
    try:
        started = _ccpulse("start", env=env)
        assert started.returncode == 0, started.stderr
        assert f"127.0.0.1:{kafka_port}" in started.stdout
        assert f"127.0.0.1:{redis_port}" in started.stdout

        again = _ccpulse("start", env=env)  # idempotent: the second start finds them running
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("already running") == 2

        status = _ccpulse("status", env=env)
        assert status.returncode == 0, status.stdout
        kafka_pid = read_record(run_dir, "kafka").pid  # type: ignore[union-attr]
        redis_pid = read_record(run_dir, "redis").pid  # type: ignore[union-attr]
        assert pid_alive(kafka_pid) and pid_alive(redis_pid)

        stopped = _ccpulse("stop", "--redis", env=env)
        assert stopped.returncode == 0
        assert not pid_alive(redis_pid)
        assert _ccpulse("status", "--redis", env=env).returncode == 3
        assert _ccpulse("status", "--kafka", env=env).returncode == 0
    finally:
        final = _ccpulse("stop", env=env)
    assert final.returncode == 0, final.stderr
    assert not pid_alive(kafka_pid)
    assert not port_accepts("127.0.0.1", kafka_port)
    assert not list(run_dir.glob("*.json"))


def test_a_broker_that_cannot_start_says_why(tmp_path: Path) -> None:
    from streams.services import ServiceError

    port, controller_port = free_ports(2)
    broker = KafkaBroker(tmp_path / "k", port=port, controller_port=controller_port, heap="1x")
    with pytest.raises(ServiceError, match=r"(?s)exited with code 1.*Invalid maximum heap size"):
        broker.start(timeout=60)
    assert broker.pid is None
    assert not port_accepts("127.0.0.1", port)
