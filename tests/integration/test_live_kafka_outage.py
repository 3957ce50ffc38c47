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
    redis_snapshot,
    wait_redis_equals_replay,
    write_config,
)

from streams.config import load_settings
from streams.services import KafkaBroker, free_ports

OUTAGE_SECONDS = 8
# Seconds without an answer from Kafka before publishing pauses. 2 s made a second cut-off
# (and its log line) once on a 2-core machine loaded four times over, while the group
# rejoined after the restart; the outage is still twice this long.
SILENCE_LIMIT = 4
OUTAGE_ERRORS = ("Unable connect to node", "Failed fetch messages from")


def test_broker_restart_mid_run_ends_with_the_right_state(tmp_path, start_redis):
    """The worker keeps running while the broker is down, stops publishing (its figures would
    look current while no event can arrive), logs the outage without flooding the log, and
    after the broker is back resumes and processes what follows: Redis equals replay of all."""
    port, controller_port, web_port = free_ports(3)
    redis_url = start_redis().url
    broker = KafkaBroker(tmp_path / "kafka", port=port, controller_port=controller_port)
    config = write_config(tmp_path / "ccpulse.toml", "kout")
    settings = load_settings(config)
    scenario = build_scenario(time.time() - 150, seconds=150)
    half = len(scenario.lines) // 2
    first, second = scenario.lines[:half], scenario.lines[half:]
    client = redis.Redis.from_url(redis_url)
    worker = WorkerProcess(
        tmp_path / "w",
        config,
        broker.bootstrap,
        redis_url,
        "kout",
        web_port,
        {"CCPULSE_KAFKA_SILENCE_SECONDS": str(SILENCE_LIMIT)},
    )
    with broker:
        try:
            worker.start()
            wait_until(worker.ready, timeout=60, message="worker ready")
            produce(first, tmp_path / "first.jsonl", config, broker.bootstrap)
            wait_redis_equals_replay(client, first, settings, worker)
            assert worker.health()["kafka"] == "ok"
            broker.stop()
            down_since = time.monotonic()
            # Cut off: no more publishes (frozen figures would look current), no KPI gauges.
            wait_until(
                lambda: worker.health()["kafka"] == "unavailable",
                timeout=30,
                message="worker reports Kafka unavailable",
            )
            writes = worker.health()["redis_writes"]
            frozen_as_of = redis_snapshot(client)["as_of"]
            metrics = worker.metrics_text()
            assert "ccpulse_service_level_ratio" not in metrics
            assert "\nccpulse_kafka_connected 0.0\n" in metrics
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
            assert worker.health()["redis_writes"] == writes
            assert redis_snapshot(client)["as_of"] == frozen_as_of
            broker.start()
            wait_until(
                lambda: worker.health()["kafka"] == "ok", timeout=60, message="Kafka answers again"
            )
            produce(second, tmp_path / "second.jsonl", config, broker.bootstrap)
            wait_redis_equals_replay(client, scenario.lines, settings, worker, timeout=120)
            worker.assert_running()
            log = worker.log_text()
            # One line per kind of error, not one per attempt (about 100 a second unfiltered).
            for kind in OUTAGE_ERRORS:
                assert log.count(kind) <= 2, f"{log.count(kind)} lines of {kind!r}"
            assert log.count("no answer from Kafka for") == 1
            assert log.count("Kafka answers again: publishing resumed") == 1
        finally:
            worker.stop()
