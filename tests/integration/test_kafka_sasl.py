"""Kafka with SASL/PLAIN: `ccpulse produce` and the worker log in with the CCPULSE_KAFKA_SASL_*
settings and publish the same snapshot as replay; a wrong password fails fast, names the
setting, and never shows up in the output. A real broker whose only client listener is
SASL_PLAINTEXT, with users and passwords made up for this test run."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from live_support import (
    CCPULSE,
    WorkerProcess,
    build_scenario,
    wait_redis_equals_replay,
    write_config,
)

from streams.config import load_settings
from streams.services import KafkaBroker, free_ports

USER = "ccpulse"


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KafkaBroker, str]]:
    password = secrets.token_urlsafe(16)
    port, controller_port = free_ports(2)
    broker = KafkaBroker(
        tmp_path_factory.mktemp("kafka-sasl"),
        port=port,
        controller_port=controller_port,
        sasl_users={"broker": secrets.token_urlsafe(16), USER: password},
    )
    with broker:
        yield broker, password


def login(broker: KafkaBroker, password: str) -> dict[str, str]:
    return {
        "CCPULSE_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CCPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CCPULSE_KAFKA_SASL_MECHANISM": "PLAIN",
        "CCPULSE_KAFKA_SASL_USERNAME": USER,
        "CCPULSE_KAFKA_SASL_PASSWORD": password,
    }


def run_produce(path: Path, config: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CCPULSE, "produce", str(path), "--config", str(config)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_produce_and_worker_log_in_and_publish_what_replay_computes(
    tmp_path, sasl_broker, start_redis
):
    broker, password = sasl_broker
    server = start_redis()
    config = write_config(tmp_path / "ccpulse.toml", "sasl")
    scenario = build_scenario(time.time() - 120, seconds=120)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(scenario.lines) + b"\n")

    # Without credentials the broker does not talk to us at all.
    refused = run_produce(events, config, {"CCPULSE_KAFKA_BOOTSTRAP": broker.bootstrap})
    assert refused.returncode != 0

    sent = run_produce(events, config, login(broker, password))
    assert sent.returncode == 0, sent.stderr
    assert f"sent {scenario.count} messages" in sent.stderr

    (web_port,) = free_ports(1)
    worker = WorkerProcess(
        tmp_path / "w",
        config,
        broker.bootstrap,
        server.url,
        "sasl-app",
        web_port,
        extra_env=login(broker, password),
    )
    worker.start()
    try:
        client = redis.Redis.from_url(server.url)
        wait_redis_equals_replay(client, scenario.lines, load_settings(config), worker)
        assert password not in worker.log_text()
    finally:
        worker.stop()


def test_a_wrong_password_fails_fast_naming_the_setting(tmp_path, sasl_broker, redis_url):
    broker, password = sasl_broker
    wrong = secrets.token_urlsafe(16)
    config = write_config(tmp_path / "ccpulse.toml", "sasl-wrong")
    env = {
        **os.environ,
        "CCPULSE_REDIS_URL": redis_url,
        "CCPULSE_STATE_DIR": str(tmp_path / "state"),
        **login(broker, wrong),
    }
    started = time.monotonic()
    result = subprocess.run(
        [CCPULSE, "worker", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert elapsed < 45, f"took {elapsed:.0f} s to give up"
    assert "refused the login" in output, output[-2000:]
    assert "CCPULSE_KAFKA_SASL_PASSWORD" in output
    assert wrong not in output and password not in output
