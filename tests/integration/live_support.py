"""Support for the live-pipeline tests: a scenario near now, worker subprocesses, comparisons.

- `build_scenario`: a small deterministic contact centre (agents log in, take calls, wrap up,
  go not-ready; calls offered, answered, abandoned or still waiting; a few duplicates) with
  event times in the last minutes, so the live worker accepts them (not late, not future).
- `WorkerProcess`: `.venv/bin/ccpulse worker` as a real subprocess with its own env, state
  dir and web port.
- `redis_snapshot`, `assert_same_scopes`: read what the worker published and compare it with
  `replay_lines` of the same events at the same `as_of`.
- `run_ccpulse`, `produce_and_publish`, `run_failing_worker`: the connection tests' steps
  (SASL, TLS): a command with only the given environment, a scenario produced and published,
  a misconfigured worker that must give up quickly.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import redis
from helpers import wait_until

from streams.config import load_settings
from streams.replay import replay_lines
from streams.services import free_ports


@dataclass
class Scenario:
    lines: list[bytes] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.lines)


def build_scenario(
    start: float,
    seconds: float = 240.0,
    queues: int = 6,
    agents: int = 12,
    calls: int = 300,
    seed: int = 7,
    prefix: str = "",
) -> Scenario:
    """Events with `start <= ts < start + seconds`, sorted by ts."""
    rng = random.Random(seed)
    queue_names = [f"{prefix}q{index}" for index in range(queues)]
    teams = [f"{prefix}team{index}" for index in range(3)]
    events: list[dict] = []
    serial = 0

    def event(kind: str, ts: float, **fields: object) -> None:
        nonlocal serial
        serial += 1
        events.append(
            {"type": kind, "event_id": f"{prefix}e{serial}", "ts": round(ts, 3), **fields}
        )

    for index in range(agents):
        agent = f"{prefix}a{index}"
        served = rng.sample(queue_names, k=rng.randint(1, 3))
        team = teams[index % len(teams)]
        ts = start + rng.uniform(0, 5)
        states = ["available", "on_call", "wrap_up", "available", "not_ready", "available"]
        for state in states:
            extra = {"reason": "break"} if state == "not_ready" else {}
            event("agent.state", ts, agent_id=agent, state=state, queues=served, team=team, **extra)
            ts += rng.uniform(5, seconds / len(states) - 1)
        if index % 4 == 0:
            event("agent.state", ts, agent_id=agent, state="logged_out", queues=[], team=team)
    for index in range(calls):
        call = f"{prefix}c{index}"
        queue = rng.choice(queue_names)
        offered = start + rng.uniform(0, seconds - 60)
        event("call.offered", offered, call_id=call, queue=queue)
        outcome = rng.random()
        wait = rng.uniform(0, 40)
        if outcome < 0.7:
            agent = f"{prefix}a{rng.randrange(agents)}"
            event(
                "call.answered",
                offered + wait,
                call_id=call,
                queue=queue,
                agent_id=agent,
                wait_seconds=round(wait, 3),
            )
            talk = rng.uniform(5, 15)
            event(
                "call.wrapup",
                offered + wait + talk + 3,
                call_id=call,
                queue=queue,
                agent_id=agent,
                talk_seconds=round(talk, 3),
                hold_seconds=1,
                acw_seconds=2,
            )
        elif outcome < 0.9:
            event(
                "call.abandoned",
                offered + wait,
                call_id=call,
                queue=queue,
                wait_seconds=round(wait, 3),
            )
        # else: still waiting
    for duplicate in rng.sample(events, k=5):
        events.append(dict(duplicate))  # same event_id: must count once
    events = [item for item in events if item["ts"] < start + seconds]
    events.sort(key=lambda item: item["ts"])
    return Scenario([orjson.dumps(item) for item in events])


CCPULSE = str(Path(sys.executable).parent / "ccpulse")


def produce(lines: list[bytes], path: Path, config: Path, bootstrap: str) -> None:
    """Write `lines` to `path` and send them with `ccpulse produce` (a real subprocess)."""
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = subprocess.run(
        [CCPULSE, "produce", str(path), "--config", str(config)],
        env={"CCPULSE_KAFKA_BOOTSTRAP": bootstrap, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def write_config(path: Path, prefix: str, **extra: Any) -> Path:
    """A config whose topics are unique to one test (tests share one broker)."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    lines += ["[topics]"]
    for name in ("offered", "answered", "abandoned", "wrapup"):
        lines.append(f'{name} = "{prefix}.call.{name}"')
    lines.append(f'agent_state = "{prefix}.agent.state"')
    lines.append(f'dead_letter = "{prefix}.dead-letter"')
    path.write_text("\n".join(lines) + "\n")
    return path


def fast_worker_env() -> dict[str, str]:
    """Short Kafka timings so rebalances and takeovers happen in seconds."""
    return {
        "CCPULSE_KAFKA_SESSION_TIMEOUT": "6",
        "CCPULSE_KAFKA_HEARTBEAT_INTERVAL": "1",
        "CCPULSE_KAFKA_REBALANCE_TIMEOUT": "20",
        "CCPULSE_COMMIT_INTERVAL": "0.5",
        "CCPULSE_LOG_LEVEL": "info",
    }


class WorkerProcess:
    def __init__(
        self,
        directory: Path,
        config: Path,
        kafka_bootstrap: str,
        redis_url: str,
        app_id: str,
        web_port: int,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.web_port = web_port
        self.env = {
            **os.environ,
            **fast_worker_env(),
            "CCPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CCPULSE_REDIS_URL": redis_url,
            "CCPULSE_APP_ID": app_id,
            "CCPULSE_WEB_PORT": str(web_port),
            "CCPULSE_STATE_DIR": str(directory / "state"),
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.directory / f"worker-{self.starts}.log"

    def start(self) -> WorkerProcess:
        self.starts += 1
        handle = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [CCPULSE, "worker", "--config", str(self.config)],
            env=self.env,
            cwd=self.directory,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        return self

    def log_text(self) -> str:
        return "".join(
            (self.directory / f"worker-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
        )

    def get(self, path: str) -> tuple[int, bytes] | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.web_port}{path}", timeout=5
            ) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def health(self) -> dict[str, Any] | None:
        answer = self.get("/healthz")
        if answer is None:
            return None
        try:
            return json.loads(answer[1]) | {"status": answer[0]}
        except ValueError:
            return {"status": answer[0], "body": answer[1]}

    def ready(self) -> dict[str, Any] | None:
        self.assert_running()
        health = self.health()
        return health if health and health["status"] == 200 else None

    def metrics_text(self) -> str:
        answer = self.get("/metrics")
        assert answer is not None and answer[0] == 200, answer
        return answer[1].decode()

    def assert_running(self) -> None:
        assert self.process is not None
        code = self.process.poll()
        assert code is None, f"worker exited with {code}:\n{self.log_text()[-5000:]}"

    def kill(self) -> None:
        """kill -9: no shutdown, no final commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def redis_snapshot(client: Any) -> dict[str, Any] | None:
    """{"as_of", "queues", "teams"} as published, or None while the queues hold publishes of
    different times (each worker's publish is one transaction, but two workers publish apart,
    and the reads here are several commands)."""
    queues, teams, stamps = {}, {}, set()
    for name in sorted(client.smembers("ccpulse:queues")):
        document = json.loads(client.hget(f"ccpulse:queue:{name.decode()}", "snapshot"))
        stamps.add(document.pop("as_of"))
        queues[name.decode()] = document
    for name in sorted(client.smembers("ccpulse:teams")):
        document = json.loads(client.hget(f"ccpulse:team:{name.decode()}", "snapshot"))
        stamps.add(document.pop("as_of"))
        teams[name.decode()] = document
    if len(stamps) != 1:
        return None
    return {"as_of": stamps.pop(), "queues": queues, "teams": teams}


def epoch(as_of: str) -> float:
    return datetime.fromisoformat(as_of).timestamp()


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where two snapshots differ: ints exactly, floats to 1e-9 relative (the live worker folds
    the same additions in other groupings than replay, which may change the last bits)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual)):
            if key not in expected or key not in actual:
                found.append(f"{path}/{key}: only in {'actual' if key in actual else 'expected'}")
            else:
                found += differences(expected[key], actual[key], f"{path}/{key}")
        return found
    if isinstance(expected, float) or isinstance(actual, float):
        if (
            isinstance(expected, int | float)
            and isinstance(actual, int | float)
            and math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
        ):
            return []
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def wait_redis_equals_replay(
    client: Any, lines: list[bytes], settings: Any, worker: WorkerProcess, timeout: float = 90
) -> None:
    """Wait until every queue and team in Redis equals `replay` of `lines` at the published
    `as_of` (failing at once if the worker dies; the last differences are the failure
    message)."""
    last: list[str] = []

    def redis_matches_replay() -> bool:
        worker.assert_running()
        published = redis_snapshot(client)
        if published is None:
            return False
        expected = replay_lines(lines, settings, at=epoch(published["as_of"])).snapshot
        last[:] = differences(
            {"queues": expected["queues"], "teams": expected["teams"]},
            {"queues": published["queues"], "teams": published["teams"]},
        )
        return not last and bool(published["queues"])

    try:
        wait_until(redis_matches_replay, timeout=timeout, message="Redis equals replay")
    except AssertionError:
        raise AssertionError("\n".join(last[:30]) or "nothing published") from None


def published_scopes(client: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Every published queue and team as {(kind, name): snapshot object with its as_of}.
    With several workers each scope carries the as_of of the worker that owns it."""
    scopes = {}
    for kind, members, prefix in (
        ("queues", "ccpulse:queues", "ccpulse:queue:"),
        ("teams", "ccpulse:teams", "ccpulse:team:"),
    ):
        for name in client.smembers(members):
            raw = client.hget(prefix + name.decode(), "snapshot")
            if raw is not None:
                scopes[(kind, name.decode())] = json.loads(raw)
    return scopes


def scope_differences(scopes: dict, replay_at: Any) -> list[str]:
    """Compare each published scope with replay at that scope's own as_of."""
    found = []
    replays: dict[str, dict[str, Any]] = {}
    for (kind, name), document in sorted(scopes.items()):
        document = dict(document)
        as_of = document.pop("as_of")
        if as_of not in replays:
            replays[as_of] = replay_at(epoch(as_of))
        expected = replays[as_of][kind].get(name)
        found += differences(expected, document, f"/{kind}/{name}@{as_of}")
    return found


FAIL_FAST = 45.0  # seconds a misconfigured worker may take to give up


def run_ccpulse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CCPULSE, *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def produce_and_publish(
    tmp_path: Path, prefix: str, kafka_env: dict[str, str], redis_url: str, redis_env: dict
) -> WorkerProcess:
    """`ccpulse produce` a scenario, run a worker, wait until Redis holds what replay computes."""
    config = write_config(tmp_path / "ccpulse.toml", prefix)
    scenario = build_scenario(time.time() - 120, seconds=120, prefix=prefix)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(scenario.lines) + b"\n")
    sent = run_ccpulse("produce", str(events), "--config", str(config), env=kafka_env)
    assert sent.returncode == 0, sent.stderr
    assert f"sent {scenario.count} messages" in sent.stderr

    (web_port,) = free_ports(1)
    worker = WorkerProcess(
        tmp_path / "w",
        config,
        kafka_env["CCPULSE_KAFKA_BOOTSTRAP"],
        redis_url,
        f"{prefix}-app",
        web_port,
        extra_env={**kafka_env, **redis_env},
    )
    worker.start()
    try:
        client = redis.Redis.from_url(redis_url, **redis_client_kwargs(redis_env))
        wait_redis_equals_replay(client, scenario.lines, load_settings(config), worker)
        client.close()
    finally:
        worker.stop()
    return worker


def redis_client_kwargs(redis_env: dict[str, str]) -> dict[str, str]:
    cafile = redis_env.get("CCPULSE_REDIS_TLS_CAFILE")
    return {"ssl_ca_certs": cafile} if cafile else {}


def run_failing_worker(tmp_path: Path, prefix: str, env: dict[str, str]) -> str:
    """Run a worker that must give up quickly; returns its output."""
    config = write_config(tmp_path / "ccpulse.toml", prefix)
    started = time.monotonic()
    result = subprocess.run(
        [CCPULSE, "worker", "--config", str(config)],
        env={**os.environ, "CCPULSE_STATE_DIR": str(tmp_path / "state"), **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    print(output)  # shown when a test fails (or with -s)
    assert result.returncode == 2, output[-3000:]
    assert elapsed < FAIL_FAST, f"took {elapsed:.0f} s to give up"
    assert "Traceback" not in output, output[-3000:]
    return output
