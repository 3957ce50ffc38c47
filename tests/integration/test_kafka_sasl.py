"""Kafka with SASL/PLAIN: `ccpulse produce` and the worker log in with the CCPULSE_KAFKA_SASL_*
settings and publish the same snapshot as replay; a wrong password fails fast, names the
setting, and never shows up in the output. A real broker whose only client listener is
SASL_PLAINTEXT, with users and passwords made up for this test run."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from live_support import build_scenario, produce_and_publish, run_ccpulse, run_failing_worker

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


def test_produce_and_worker_log_in_and_publish_what_replay_computes(
    tmp_path, sasl_broker, start_redis
):
    broker, password = sasl_broker
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(build_scenario(time.time() - 60, seconds=60).lines) + b"\n")
    # Without credentials the broker does not talk to us at all.
    refused = run_ccpulse("produce", str(events), env={"CCPULSE_KAFKA_BOOTSTRAP": broker.bootstrap})
    assert refused.returncode != 0

    worker = produce_and_publish(tmp_path, "sasl", login(broker, password), start_redis().url, {})
    assert password not in worker.log_text()


def test_a_wrong_password_fails_fast_naming_the_setting(tmp_path, sasl_broker, redis_url):
    broker, password = sasl_broker
    wrong = secrets.token_urlsafe(16)
    output = run_failing_worker(
        tmp_path, "sasl-wrong", {"CCPULSE_REDIS_URL": redis_url, **login(broker, wrong)}
    )
    assert "refused the login" in output, output[-2000:]
    assert "CCPULSE_KAFKA_SASL_PASSWORD" in output
    assert wrong not in output and password not in output
