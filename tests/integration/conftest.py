"""Real local services for integration tests: one Kafka node and one redis-server per session.

Every service gets fresh loopback ports and a temporary data directory, and is stopped at the
end of the session even when tests fail (and dies with the test process if that is killed).
Kafka's jars come from the cache (`./dev test` fetches them first); with an empty cache the
first start downloads them from Maven Central.

Fixtures:
- `kafka_broker` / `kafka_bootstrap` (session): a `KafkaBroker` and its "127.0.0.1:port".
- `redis_server` / `redis_url` (session): a `RedisServer` without password and its URL.
- `start_redis(password=None)` (function): another redis-server, stopped after the test.
- `start_prometheus(config_file, **kwargs)` (function): a real Prometheus on a free port with
  its data in the test's tmp dir, ready (`/-/ready`) when returned, stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.services import KafkaBroker, PrometheusServer, RedisServer, free_ports


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    port, controller_port = free_ports(2)
    broker = KafkaBroker(
        tmp_path_factory.mktemp("kafka"), port=port, controller_port=controller_port
    )
    with broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    (port,) = free_ports(1)
    with RedisServer(tmp_path_factory.mktemp("redis"), port=port) as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    started: list[RedisServer] = []

    def start(password: str | None = None) -> RedisServer:
        (port,) = free_ports(1)
        server = RedisServer(tmp_path / f"redis-{len(started)}", port=port, password=password)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    started: list[PrometheusServer] = []

    def start(config_file: Path | str, **kwargs: Any) -> PrometheusServer:
        (port,) = free_ports(1)
        server = PrometheusServer(
            config_file, tmp_path / f"prometheus-{len(started)}", port=port, **kwargs
        )
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()
