"""Live equals offline: what the worker publishes to Redis and /metrics equals `replay` of the
same events at the same as_of. Real broker, real redis-server, real promtool."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
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
from prometheus_client.parser import text_string_to_metric_families

from streams.adapters.prometheus_collector import EngineCollector
from streams.config import load_settings
from streams.replay import replay_lines
from streams.services import free_ports


def produce(path, config, bootstrap: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CCPULSE, "produce", str(path), "--config", str(config), *extra],
        env={"CCPULSE_KAFKA_BOOTSTRAP": bootstrap, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def samples(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(params=["bulk", "faust-streams"])
def live(request, tmp_path, kafka_bootstrap, start_redis):
    """A worker reading its topics in batches past Faust's stream path (the default), or
    through Faust's own per-message delivery (`CCPULSE_BULK=0`, the fallback)."""
    server = start_redis()
    prefix = f"eq-{request.param}"  # topics and group of their own
    config = write_config(tmp_path / "ccpulse.toml", prefix)
    (port,) = free_ports(1)
    mode = {"CCPULSE_BULK": "1" if request.param == "bulk" else "0"}
    worker = WorkerProcess(
        tmp_path / "w", config, kafka_bootstrap, server.url, f"{prefix}-app", port, mode
    )
    worker.start()
    yield worker, server, config
    worker.stop()


def test_redis_and_metrics_equal_replay_at_the_same_as_of(tmp_path, kafka_bootstrap, live):
    worker, server, config = live
    settings = load_settings(config)
    scenario = build_scenario(time.time() - 150, seconds=150)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(scenario.lines) + b"\n")
    wait_until(worker.ready, timeout=60, message="worker ready")

    result = produce(events, config, kafka_bootstrap)
    assert result.returncode == 0, result.stderr
    assert f"sent {scenario.count} messages" in result.stderr

    client = redis.Redis.from_url(server.url)
    last: list[str] = []

    def redis_matches_replay() -> bool:
        published = redis_snapshot(client)
        if published is None:
            return False
        expected = replay_lines(scenario.lines, settings, at=epoch(published["as_of"])).snapshot
        last[:] = differences(
            {"queues": expected["queues"], "teams": expected["teams"]},
            {"queues": published["queues"], "teams": published["teams"]},
        )
        return not last

    wait_until(redis_matches_replay, timeout=60, message="Redis snapshot == replay")
    assert len(redis_snapshot(client)["queues"]) == 6

    # Flat fields for Grafana: present for numbers, deleted for nulls.
    flat = {k.decode(): v.decode() for k, v in client.hgetall("ccpulse:queue:q0").items()}
    published = redis_snapshot(client)["queues"]["q0"]
    assert int(flat["calls_waiting"]) == published["calls_waiting"]
    assert int(flat["agents.staffed"]) == published["agents"]["staffed"]
    assert float(flat["15m.offered"]) == published["windows"]["15m"]["offered"]
    for window, values in published["windows"].items():
        for metric, value in values.items():
            assert (f"{window}.{metric}" in flat) == (value is not None)

    # /metrics: the same state, at the as_of the scrape reports.
    text = worker.metrics_text()
    scraped = samples(text)
    as_of = scraped[("ccpulse_snapshot_as_of_seconds", ())]
    replayed = replay_lines(scenario.lines, settings, at=as_of)
    # The worker's Kafka contact is no engine state: replay has it connected, as the worker.
    collector = EngineCollector(
        replayed.engine, lambda: replayed.snapshot, kafka_connected=lambda: True
    )
    expected = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in collector.collect()
        for sample in family.samples
    }
    assert (
        differences(
            {repr(key): value for key, value in expected.items()},
            {repr(key): value for key, value in scraped.items()},
        )
        == []
    )
    assert scraped[("ccpulse_calls_offered_total", (("queue", "q0"),))] > 0

    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install -y prometheus"
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), (
        check.stdout + check.stderr
    )


def test_produce_reports_lines_it_cannot_route(tmp_path, kafka_bootstrap):
    config = write_config(tmp_path / "ccpulse.toml", "eqp")
    lines = tmp_path / "mixed.jsonl"
    lines.write_text(
        '{"type": "call.offered", "event_id": "x1", "ts": 1, "call_id": "c", "queue": "q"}\n'
        "not json\n"
        '{"type": "call.teleported", "event_id": "x2"}\n'
        "\n"
    )
    result = produce(lines, config, kafka_bootstrap)
    assert result.returncode == 1
    assert "mixed.jsonl:2: not sent (invalid_json)" in result.stderr
    assert "mixed.jsonl:3: not sent (unknown_type)" in result.stderr
    assert "sent 1 messages (eqp.call.offered: 1)" in result.stderr
    raw = produce(lines, config, kafka_bootstrap, "--raw-topic", "eqp.call.offered")
    assert raw.returncode == 0, raw.stderr
    assert "sent 3 messages (eqp.call.offered: 3)" in raw.stderr
