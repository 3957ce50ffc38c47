"""kill -9 mid-stream, start again: the state recovered from the changelogs plus the
redelivered events give the same snapshot as an uninterrupted run (= replay of the events);
redelivered events are not counted twice."""

from __future__ import annotations

import subprocess
import time

import redis
from helpers import wait_until
from live_support import (
    CCPULSE,
    WorkerProcess,
    build_scenario,
    differences,
    epoch,
    redis_snapshot,
    write_config,
)

from streams.config import load_settings
from streams.replay import replay_lines
from streams.services import free_ports


def test_kill_9_mid_stream_then_restart_equals_uninterrupted_run(
    tmp_path, kafka_bootstrap, start_redis
):
    server = start_redis()
    config = write_config(tmp_path / "ccpulse.toml", "crash")
    settings = load_settings(config)
    (port,) = free_ports(1)
    worker = WorkerProcess(
        tmp_path / "w",
        config,
        kafka_bootstrap,
        server.url,
        "crash-app",
        port,
        # small batches: many changelog flushes and commits to be cut in the middle of
        extra_env={"CCPULSE_BATCH_MAX": "200", "CCPULSE_COMMIT_INTERVAL": "0.2"},
    )
    scenario = build_scenario(time.time() - 170, seconds=170, queues=8, agents=60, calls=6000)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(scenario.lines) + b"\n")
    try:
        worker.start()
        wait_until(worker.ready, timeout=60, message="worker ready")
        producer = subprocess.Popen(
            [CCPULSE, "produce", str(events), "--config", str(config)],
            env={"CCPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap, "PATH": "/usr/bin:/bin"},
            stderr=subprocess.PIPE,
        )
        wait_until(
            lambda: (worker.health() or {}).get("events_processed", 0) > scenario.count // 4,
            timeout=60,
            interval=0.01,
            message="a quarter of the events processed",
        )
        worker.kill()
        processed_before = scenario.count  # upper bound; the log tells how far it got
        assert producer.wait(60) == 0, producer.stderr.read()

        worker.start()
        client = redis.Redis.from_url(server.url)
        last: list[str] = []

        def matches_uninterrupted_run() -> bool:
            published = redis_snapshot(client)
            if published is None:
                return False
            expected = replay_lines(scenario.lines, settings, at=epoch(published["as_of"]))
            last[:] = differences(
                {"queues": expected.snapshot["queues"], "teams": expected.snapshot["teams"]},
                {"queues": published["queues"], "teams": published["teams"]},
            )
            return not last

        try:
            wait_until(matches_uninterrupted_run, timeout=90, message="snapshot == replay")
        except AssertionError:
            raise AssertionError("\n".join(last[:40])) from None
        health = worker.health()
        assert health["ready"] and health["events_processed"] < processed_before * 2
    finally:
        worker.stop()
