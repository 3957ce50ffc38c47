"""Service plumbing without servers: pid records never signal a stranger, stop escalates to
SIGKILL, and the generated broker/redis configs pin the choices README explains."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import wait_until

from streams.services.kafka import KafkaBroker, new_cluster_id
from streams.services.kafka_dist import KafkaDistribution
from streams.services.process import ServiceError, pid_alive, poll_until, terminate_pid
from streams.services.redis_server import RedisServer
from streams.services.registry import (
    ServiceRecord,
    read_record,
    record_path,
    stop_recorded,
    write_record,
)


def _record(pid: int, marker: str, tmp_path: Path) -> ServiceRecord:
    return ServiceRecord(
        name="redis",
        pid=pid,
        address="127.0.0.1:1",
        marker=marker,
        data_dir=str(tmp_path),
        log_file=str(tmp_path / "x.out"),
        started_at=time.time(),
    )


def _child(code: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    # Our own pid is alive but does not run the recorded program: the record is stale.
    write_record(tmp_path, _record(os.getpid(), "redis-server 127.0.0.1:1", tmp_path))
    message = stop_recorded(tmp_path, "redis", timeout=1)
    assert "stale record" in message
    assert not record_path(tmp_path, "redis").exists()


def test_a_dead_pid_record_is_removed(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    write_record(tmp_path, _record(child.pid, "python", tmp_path))
    assert read_record(tmp_path, "redis") is not None
    assert "not running" in stop_recorded(tmp_path, "redis", timeout=1)
    assert read_record(tmp_path, "redis") is None


def test_a_recorded_live_service_is_stopped(tmp_path: Path) -> None:
    child = _child("import time; print('ready', flush=True); time.sleep(60)")
    marker = "time.sleep(60)"
    write_record(tmp_path, _record(child.pid, marker, tmp_path))
    assert read_record(tmp_path, "redis").alive  # type: ignore[union-attr]
    message = stop_recorded(tmp_path, "redis", timeout=5)
    assert message.startswith("redis: stopped")
    child.wait(timeout=5)
    assert child.returncode == -15


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored() -> None:
    child = _child(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    began = time.monotonic()
    assert terminate_pid(child.pid, timeout=0.5, reap=child.poll) is False
    assert child.returncode == -9
    assert time.monotonic() - began < 5
    assert not pid_alive(child.pid)


def test_poll_until_returns_the_value_or_times_out() -> None:
    calls = iter([0, 0, 7])
    assert poll_until(lambda: next(calls), timeout=5, interval=0.01) == 7
    with pytest.raises(TimeoutError, match=r"never not met within 0\.1s"):
        poll_until(lambda: False, timeout=0.1, interval=0.01, what="never")


def test_wait_until_names_what_it_waited_for() -> None:
    assert wait_until(lambda: "yes", timeout=1) == "yes"
    with pytest.raises(AssertionError, match="waiting for the answer; last: 0"):
        wait_until(lambda: 0, timeout=0.1, interval=0.01, message="the answer")


def test_cluster_ids_are_kafka_uuids() -> None:
    for _ in range(200):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_broker_config_is_loopback_single_node(tmp_path: Path) -> None:
    broker = KafkaBroker(
        tmp_path,
        port=19092,
        controller_port=19093,
        distribution=KafkaDistribution(cache_dir=tmp_path / "cache"),
    )
    lines = dict(
        line.split("=", 1) for line in broker.server_properties().splitlines() if "=" in line
    )
    assert lines["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert lines["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert lines["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert lines["auto.create.topics.enable"] == "true"
    assert lines["num.partitions"] == "4"
    assert lines["offsets.topic.replication.factor"] == "1"
    assert lines["transaction.state.log.replication.factor"] == "1"
    assert lines["transaction.state.log.min.isr"] == "1"
    assert lines["group.initial.rebalance.delay.ms"] == "0"
    assert lines["log.dirs"] == str(tmp_path.resolve() / "data")
    assert broker.bootstrap == "127.0.0.1:19092"
    assert "-Xmx512m" in broker.command()


def test_redis_config_binds_loopback_and_quotes_the_password(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, port=16379, password='a "b" \\c')
    config = server.config_text()
    assert "bind 127.0.0.1\n" in config
    assert 'save ""\n' in config and "appendonly no\n" in config
    assert 'requirepass "a \\"b\\" \\\\c"\n' in config
    assert server.command()[-1] == "-"  # config, with the secret, goes in on stdin
    assert 'a "b"' not in server.display_url
    assert "requirepass" not in RedisServer(tmp_path, port=16379).config_text()


def test_cached_kafka_jars_need_no_maven_and_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no mvn, no network tools
    distribution = KafkaDistribution(cache_dir=tmp_path / "cache")
    with pytest.raises(ServiceError, match=r"mvn not found.*apt-get install -y maven"):
        distribution.ensure()

    # A complete copy (stamp matching this exact pom) is used as is.
    distribution.lib_dir.mkdir(parents=True)
    (distribution.home / ".complete").write_text(distribution._fingerprint + "\n")
    assert distribution.ready
    assert distribution.ensure() == distribution.lib_dir
    assert distribution.classpath == f"{distribution.lib_dir}/*"

    # A copy made for another pom (say another Kafka version) is not.
    (distribution.home / ".complete").write_text("0" * 64 + "\n")
    assert not distribution.ready
