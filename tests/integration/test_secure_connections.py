"""Kafka over TLS (with client certificates), Kafka SASL_SSL with SCRAM-SHA-256, and Redis over
TLS (`rediss://`), against real servers configured like that and nothing else: `ccpulse
produce` and the worker connect with the CCPULSE_KAFKA_SSL_*/SASL_* and CCPULSE_REDIS_*
settings and publish what replay computes; a wrong CA, a missing client certificate or a
wrong SCRAM password makes the worker fail fast with an error naming the setting to fix, and
never prints a password. Certificates come from a CA made up for this test module
(`tls_support.make_pki`), users and passwords from `secrets`."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import redis
from live_support import (
    produce_and_publish,
    run_ccpulse,
    run_failing_worker,
    write_config,
)
from tls_support import Pki, make_pki

from streams.services import free_ports
from streams.services.kafka import BrokerTls, KafkaBroker
from streams.services.redis_server import RedisServer, RedisTls

USER = "ccpulse"
SCRAM = "SCRAM-SHA-256"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[KafkaBroker]:
    """Only listener for clients: SSL, and a client certificate signed by the CA required."""
    port, controller_port = free_ports(2)
    tls = BrokerTls(pki.server_cert, pki.server_key, pki.ca, client_auth=True)
    broker = KafkaBroker(
        tmp_path_factory.mktemp("kafka-tls"), port=port, controller_port=controller_port, tls=tls
    )
    with broker:
        yield broker


@pytest.fixture(scope="module")
def scram_broker(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki
) -> Iterator[tuple[KafkaBroker, str]]:
    """Only listener for clients: SASL_SSL, SCRAM-SHA-256 logins (no client certificates)."""
    password = secrets.token_urlsafe(16)
    port, controller_port = free_ports(2)
    broker = KafkaBroker(
        tmp_path_factory.mktemp("kafka-scram"),
        port=port,
        controller_port=controller_port,
        sasl_users={"broker": secrets.token_urlsafe(16), USER: password},
        sasl_mechanism=SCRAM,
        tls=BrokerTls(pki.server_cert, pki.server_key, pki.ca),
    )
    with broker:
        yield broker, password


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[RedisServer]:
    """Accepts TLS only (`port 0`): a plaintext client cannot talk to it."""
    (port,) = free_ports(1)
    tls = RedisTls(pki.server_cert, pki.server_key, pki.ca)
    with RedisServer(tmp_path_factory.mktemp("redis-tls"), port=port, tls=tls) as server:
        yield server


def tls_env(broker: KafkaBroker, pki: Pki, **overrides: str) -> dict[str, str]:
    return {
        "CCPULSE_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CCPULSE_KAFKA_SECURITY_PROTOCOL": "SSL",
        "CCPULSE_KAFKA_SSL_CAFILE": str(pki.ca),
        "CCPULSE_KAFKA_SSL_CERTFILE": str(pki.client_cert),
        "CCPULSE_KAFKA_SSL_KEYFILE": str(pki.client_key),
        **overrides,
    }


def scram_env(broker: KafkaBroker, pki: Pki, password: str) -> dict[str, str]:
    return {
        "CCPULSE_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CCPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CCPULSE_KAFKA_SASL_MECHANISM": SCRAM,
        "CCPULSE_KAFKA_SASL_USERNAME": USER,
        "CCPULSE_KAFKA_SASL_PASSWORD": password,
        "CCPULSE_KAFKA_SSL_CAFILE": str(pki.ca),
    }


def test_kafka_tls_with_client_certificate_and_redis_tls(tmp_path, pki, tls_broker, tls_redis):
    # Neither server talks to a client that does not speak TLS with them.
    config = write_config(tmp_path / "plain.toml", "tls-plain")
    refused = run_ccpulse(
        "produce", os.devnull, "--config", str(config),
        env={"CCPULSE_KAFKA_BOOTSTRAP": tls_broker.bootstrap},
    )  # fmt: skip
    assert refused.returncode != 0
    plain_url = tls_redis.url.replace("rediss://", "redis://", 1)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(plain_url, socket_timeout=2, socket_connect_timeout=2).ping()

    produce_and_publish(
        tmp_path,
        "tls",
        tls_env(tls_broker, pki),
        tls_redis.url,
        {"CCPULSE_REDIS_TLS_CAFILE": str(pki.ca)},
    )


def test_kafka_sasl_ssl_scram_login(tmp_path, pki, scram_broker, start_redis):
    broker, password = scram_broker
    server = start_redis()
    worker = produce_and_publish(
        tmp_path, "scram", scram_env(broker, pki, password), server.url, {}
    )
    assert password not in worker.log_text()


def test_kafka_tls_with_an_untrusted_ca_names_the_cafile_setting(
    tmp_path, pki, tls_broker, redis_url
):
    env = tls_env(tls_broker, pki, CCPULSE_KAFKA_SSL_CAFILE=str(pki.other_ca))
    output = run_failing_worker(tmp_path, "tls-wrong-ca", {"CCPULSE_REDIS_URL": redis_url, **env})
    assert "CCPULSE_KAFKA_SSL_CAFILE" in output, output[-3000:]
    assert "certificate" in output


def test_produce_with_an_untrusted_ca_names_the_cafile_setting(tmp_path, pki, tls_broker):
    events = tmp_path / "one.jsonl"
    events.write_bytes(
        b'{"type": "call.offered", "event_id": "e1", "ts": 1.0, "call_id": "c1", '
        b'"queue": "sales"}\n'
    )
    env = tls_env(tls_broker, pki, CCPULSE_KAFKA_SSL_CAFILE=str(pki.other_ca))
    done = run_ccpulse("produce", str(events), env=env)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "CCPULSE_KAFKA_SSL_CAFILE" in done.stderr and "certificate" in done.stderr
    assert "Traceback" not in done.stderr


def test_kafka_tls_without_the_required_client_certificate_names_the_certfile_setting(
    tmp_path, pki, tls_broker, redis_url
):
    env = tls_env(tls_broker, pki)
    del env["CCPULSE_KAFKA_SSL_CERTFILE"], env["CCPULSE_KAFKA_SSL_KEYFILE"]
    output = run_failing_worker(tmp_path, "tls-no-cert", {"CCPULSE_REDIS_URL": redis_url, **env})
    assert "CCPULSE_KAFKA_SSL_CERTFILE" in output, output[-3000:]


def test_a_wrong_scram_password_fails_fast_naming_the_setting(
    tmp_path, pki, scram_broker, redis_url
):
    broker, password = scram_broker
    wrong = secrets.token_urlsafe(16)
    env = {"CCPULSE_REDIS_URL": redis_url, **scram_env(broker, pki, wrong)}
    output = run_failing_worker(tmp_path, "scram-wrong", env)
    assert "refused the login" in output, output[-3000:]
    assert "CCPULSE_KAFKA_SASL_PASSWORD" in output
    assert wrong not in output and password not in output


def test_redis_tls_with_an_untrusted_ca_names_the_cafile_setting(
    tmp_path, pki, tls_broker, tls_redis
):
    env = {
        **tls_env(tls_broker, pki),
        "CCPULSE_REDIS_URL": tls_redis.url,
        "CCPULSE_REDIS_TLS_CAFILE": str(pki.other_ca),
    }
    output = run_failing_worker(tmp_path, "redis-wrong-ca", env)
    assert "CCPULSE_REDIS_TLS_CAFILE" in output, output[-3000:]
    assert "certificate" in output
