"""Redis: an outage mid-run (worker keeps processing, warns once, republishes when Redis is
back), a password (right one works, wrong or missing one fails fast naming the variable), and
fail-fast when Kafka is unreachable. Real redis-server, real broker."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import redis
from helpers import wait_until
from live_support import (
    WorkerProcess,
    build_scenario,
    produce,
    wait_redis_equals_replay,
    write_config,
)

from streams.adapters.redis_publisher import RedisPublisher
from streams.config import load_settings
from streams.live.environment import redis_from_env
from streams.services import free_ports

FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_redis_outage_mid_run_ends_with_the_right_state(tmp_path, kafka_bootstrap, start_redis):
    server = start_redis()
    config = write_config(tmp_path / "ccpulse.toml", "outage")
    settings = load_settings(config)
    (port,) = free_ports(1)
    worker = WorkerProcess(tmp_path / "w", config, kafka_bootstrap, server.url, "outage", port)
    scenario = build_scenario(time.time() - 150, seconds=150)
    half = len(scenario.lines) // 2
    first, second = scenario.lines[:half], scenario.lines[half:]
    client = redis.Redis.from_url(server.url)
    try:
        worker.start()
        wait_until(worker.ready, timeout=60, message="worker ready")
        produce(first, tmp_path / "first.jsonl", config, kafka_bootstrap)
        wait_redis_equals_replay(client, first, settings, worker)

        server.stop()
        produce(second, tmp_path / "second.jsonl", config, kafka_bootstrap)
        # Processing goes on without Redis: every event is handled, Redis is reported down.
        wait_until(
            lambda: (
                (worker.health() or {}).get("events_processed") == len(scenario.lines)
                and worker.health()["redis"] == "unavailable"
            ),
            timeout=60,
            message="all events processed while Redis is down",
        )
        server.start()
        client = redis.Redis.from_url(server.url)
        wait_redis_equals_replay(client, scenario.lines, settings, worker)
        worker.assert_running()
        log = worker.log_text()
        assert log.count("unavailable (") == 1, "warns once per outage"
        assert "is back; latest state republished" in log
    finally:
        worker.stop()


def start_failing_worker(tmp_path, name: str, env: dict[str, str], redis_url: str, bootstrap):
    config = write_config(tmp_path / f"{name}.toml", name)
    (port,) = free_ports(1)
    worker = WorkerProcess(tmp_path / name, config, bootstrap, redis_url, name, port, env)
    worker.start()
    started = time.monotonic()
    code = worker.process.wait(30)
    return code, time.monotonic() - started, worker.log_text()


def test_redis_password_right_one_works_wrong_one_fails_fast(
    tmp_path, kafka_bootstrap, start_redis
):
    password = "s3cret-Pa55"
    server = start_redis(password=password)
    url = f"redis://127.0.0.1:{server.port}/0"
    config = write_config(tmp_path / "ccpulse.toml", "pw")
    (port,) = free_ports(1)
    worker = WorkerProcess(
        tmp_path / "ok",
        config,
        kafka_bootstrap,
        url,
        "pw",
        port,
        {"CCPULSE_REDIS_PASSWORD": password},
    )
    try:
        worker.start()
        wait_until(worker.ready, timeout=60, message="worker ready with the right password")
        produce(
            build_scenario(time.time() - 60, seconds=60, calls=20).lines,
            tmp_path / "e.jsonl",
            config,
            kafka_bootstrap,
        )
        client = redis.Redis.from_url(url, password=password)
        wait_until(lambda: client.scard("ccpulse:queues") > 0, timeout=30, message="written")
        assert password not in worker.log_text()
    finally:
        worker.stop()

    code, seconds, log = start_failing_worker(
        tmp_path, "pwwrong", {"CCPULSE_REDIS_PASSWORD": "not-the-password"}, url, kafka_bootstrap
    )
    assert code == 2 and seconds < 20, log
    assert "rejected the password" in log and "CCPULSE_REDIS_PASSWORD" in log, log
    assert "not-the-password" not in log and "Traceback" not in log

    code, _, log = start_failing_worker(tmp_path, "pwnone", {}, url, kafka_bootstrap)
    assert code == 2 and "requires a password" in log and "CCPULSE_REDIS_PASSWORD" in log, log


def test_unreachable_kafka_and_redis_fail_fast_naming_the_variable(
    tmp_path, kafka_bootstrap, redis_url
):
    (closed,) = free_ports(1)
    code, seconds, log = start_failing_worker(
        tmp_path, "nokafka", {}, redis_url, f"127.0.0.1:{closed}"
    )
    assert code == 2 and seconds < 20, log
    assert "cannot reach Kafka" in log and "CCPULSE_KAFKA_BOOTSTRAP" in log, log
    code, seconds, log = start_failing_worker(
        tmp_path, "noredis", {}, f"redis://127.0.0.1:{closed}/0", kafka_bootstrap
    )
    assert code == 2 and seconds < 20, log
    assert "cannot reach Redis" in log and "CCPULSE_REDIS_URL" in log, log


def test_one_publish_is_one_redis_transaction(start_redis) -> None:
    """Readers never see half a publish: every queue's hash (deleted and written whole), the
    sets and the update message go in one MULTI/EXEC (counted by the real server)."""
    redis_url = start_redis().url  # its own server: the fixture's queues stay out of others'
    snapshot = json.loads((FIXTURES / "replay_basic.expected.json").read_text())
    assert len(snapshot["queues"]) >= 2
    client = redis.Redis.from_url(redis_url)

    def transactions() -> tuple[int, int]:
        stats = client.info("commandstats")
        return tuple(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("multi", "exec"))

    async def publish_once() -> bool:
        publisher = RedisPublisher(redis_from_env({"CCPULSE_REDIS_URL": redis_url}))
        try:
            return await publisher.publish(snapshot)
        finally:
            await publisher.close()

    before = transactions()
    assert asyncio.run(publish_once())
    assert transactions() == (before[0] + 1, before[1] + 1)
    assert set(client.smembers("ccpulse:queues")) >= {q.encode() for q in snapshot["queues"]}


def test_a_publish_leaves_no_field_of_the_previous_one_behind(start_redis) -> None:
    """A metric that became null and a window dropped from the config (worker restarted with
    a new config) lose their flat fields at the next publish instead of keeping old values."""
    redis_url = start_redis().url
    snapshot = json.loads((FIXTURES / "replay_basic.expected.json").read_text())
    queue = next(iter(snapshot["queues"]))
    client = redis.Redis.from_url(redis_url)
    later = json.loads(json.dumps(snapshot))
    windows = later["queues"][queue]["windows"]
    dropped = next(iter(windows))
    del windows[dropped]
    kept = next(iter(windows))
    windows[kept]["service_level"] = None

    async def publish(*snapshots: dict) -> None:
        publisher = RedisPublisher(redis_from_env({"CCPULSE_REDIS_URL": redis_url}))
        try:
            for each in snapshots:
                assert await publisher.publish(each)
        finally:
            await publisher.close()

    asyncio.run(publish(snapshot))
    fields = {name.decode() for name in client.hkeys(f"ccpulse:queue:{queue}")}
    assert f"{dropped}.offered" in fields and f"{kept}.service_level" in fields
    asyncio.run(publish(later))
    fields = {name.decode() for name in client.hkeys(f"ccpulse:queue:{queue}")}
    assert not any(name.startswith(f"{dropped}.") for name in fields), sorted(fields)
    assert f"{kept}.service_level" not in fields
    assert f"{kept}.offered" in fields and "snapshot" in fields
    stored = json.loads(client.hget(f"ccpulse:queue:{queue}", "snapshot"))
    assert stored["windows"] == windows
