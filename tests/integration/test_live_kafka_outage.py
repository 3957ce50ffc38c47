"""Kafka: the broker stops mid-run and comes back; the worker rides it out and ends with the
right state. Real broker (its own, so the session's broker stays up), real redis-server."""

from __future__ import annotations

import time

import redis
from helpers import wait_until
from live_support import (
    WorkerProcess,
    build_scenario,
    produce,
    wait_redis_equals_replay,
    write_config,
)

from streams.config import load_settings
from streams.services import KafkaBroker, free_ports

OUTAGE_SECONDS = 8
OUTAGE_ERRORS = ("Unable connect to node", "Failed fetch messages from")


def test_broker_restart_mid_run_ends_with_the_right_state(tmp_path, start_redis):
    """The worker keeps running while the broker is down, logs the outage without flooding the
    log, and after the broker is back processes what follows: Redis equals replay of all."""
    port, controller_port, web_port = free_ports(3)
    redis_url = start_redis().url
    broker = KafkaBroker(tmp_path / "kafka", port=port, controller_port=controller_port)
    config = write_config(tmp_path / "ccpulse.toml", "kout")
    settings = load_settings(config)
    scenario = build_scenario(time.time() - 150, seconds=150)
    half = len(scenario.lines) // 2
    first, second = scenario.lines[:half], scenario.lines[half:]
    client = redis.Redis.from_url(redis_url)
    worker = WorkerProcess(tmp_path / "w", config, broker.bootstrap, redis_url, "kout", web_port)
    with broker:
        try:
            worker.start()
            wait_until(worker.ready, timeout=60, message="worker ready")
            produce(first, tmp_path / "first.jsonl", config, broker.bootstrap)
            wait_redis_equals_replay(client, first, settings, worker)
            broker.stop()
            down_since = time.monotonic()
            # An outage of some seconds (dozens of reconnect attempts), noticed by the worker.
            wait_until(
                lambda: (
                    time.monotonic() - down_since >= OUTAGE_SECONDS
                    and all(kind in worker.log_text() for kind in OUTAGE_ERRORS)
                ),
                timeout=60,
                message="worker reports the broker unreachable",
            )
            worker.assert_running()
            broker.start()
            produce(second, tmp_path / "second.jsonl", config, broker.bootstrap)
            wait_redis_equals_replay(client, scenario.lines, settings, worker, timeout=120)
            worker.assert_running()
            log = worker.log_text()
            # One line per kind of error, not one per attempt (about 100 a second unfiltered).
            for kind in OUTAGE_ERRORS:
                assert log.count(kind) <= 2, f"{log.count(kind)} lines of {kind!r}"
        finally:
            worker.stop()
