"""Scale-out: two workers in one consumer group share the partitions and together publish the
right snapshot; stop one and the other takes over its partitions with recovered state."""

from __future__ import annotations

import time

import redis
from helpers import wait_until
from live_support import (
    WorkerProcess,
    build_scenario,
    produce,
    published_scopes,
    scope_differences,
    write_config,
)

from streams.config import load_settings
from streams.replay import replay_lines
from streams.services import free_ports


def test_two_workers_share_partitions_and_one_takes_over(tmp_path, kafka_bootstrap, start_redis):
    server = start_redis()
    config = write_config(tmp_path / "ccpulse.toml", "scale")
    settings = load_settings(config)
    ports = free_ports(2)
    workers = [
        WorkerProcess(tmp_path / f"w{i}", config, kafka_bootstrap, server.url, "scale", port)
        for i, port in enumerate(ports)
    ]
    scenario = build_scenario(time.time() - 160, seconds=160, queues=8, agents=24, calls=400)
    half = len(scenario.lines) // 2
    client = redis.Redis.from_url(server.url)
    last: list[str] = []

    def published_equals_replay_of(lines: list[bytes], scope_count: int):
        def check() -> bool:
            scopes = published_scopes(client)
            expected_names = replay_lines(lines, settings).snapshot
            if len(scopes) < scope_count or len(scopes) != len(expected_names["queues"]) + len(
                expected_names["teams"]
            ):
                last[:] = [f"{len(scopes)} scopes published"]
                return False
            last[:] = scope_differences(
                scopes, lambda at: replay_lines(lines, settings, at=at).snapshot
            )
            return not last

        return check

    def split_between_both() -> bool:
        health = [worker.ready() for worker in workers]
        if not all(health):
            return False
        owned = [set(h["partitions"]) for h in health]
        return all(owned) and not owned[0] & owned[1] and owned[0] | owned[1] == {0, 1, 2, 3}

    try:
        for worker in workers:
            worker.start()
        wait_until(split_between_both, timeout=90, message="partitions split between workers")
        produce(scenario.lines[:half], tmp_path / "first.jsonl", config, kafka_bootstrap)
        try:
            wait_until(published_equals_replay_of(scenario.lines[:half], 8), timeout=60)
        except AssertionError:
            raise AssertionError("\n".join(last[:30])) from None
        assert all(worker.health()["events_processed"] > 0 for worker in workers)

        assert workers[1].stop() == 0
        wait_until(
            lambda: (workers[0].ready() or {}).get("partitions") == [0, 1, 2, 3],
            timeout=90,
            message="survivor owns every partition",
        )
        produce(scenario.lines[half:], tmp_path / "second.jsonl", config, kafka_bootstrap)
        try:
            wait_until(published_equals_replay_of(scenario.lines, 8), timeout=60)
        except AssertionError:
            raise AssertionError("\n".join(last[:30])) from None
    finally:
        for worker in workers:
            worker.stop()
