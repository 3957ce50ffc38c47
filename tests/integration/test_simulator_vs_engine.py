"""The engine's snapshot of simulated events equals the simulator's ground truth.

The truth comes from the simulation's own records (`streams.simulator.truth`), never from the
engine; the engine sees only the event lines (`streams.replay.replay_lines`), or, in the last
test, what came back out of real Kafka topics. Every queue, team and window field is compared
(numbers to 1e-6) at as_of values that are multiples of bucket_seconds, including interval
boundaries (where the `interval` window is empty).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli.options import parse_time
from streams.config import Settings, load_settings, settings_from_mapping
from streams.replay import replay_lines
from streams.simulator.ledger import Ledger
from streams.simulator.model import Simulation
from streams.simulator.scenario import load_scenario, scenario_from_mapping
from streams.simulator.truth import ground_truth

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "config" / "scenarios"
TOLERANCE = 1e-6


def differences(truth: Any, engine: Any, path: str = "") -> list[str]:
    """Every field where the two snapshots disagree (numbers beyond TOLERANCE)."""
    if isinstance(truth, dict) and isinstance(engine, dict):
        found = []
        if set(truth) != set(engine):
            found.append(f"{path}: keys {sorted(truth)} != {sorted(engine)}")
        for key in sorted(set(truth) & set(engine)):
            found += differences(truth[key], engine[key], f"{path}/{key}")
        return found
    numbers = (int, float)
    if isinstance(truth, numbers) and isinstance(engine, numbers):
        if isinstance(truth, bool) or abs(truth - engine) > TOLERANCE:
            return [f"{path}: truth {truth!r} engine {engine!r}"]
        return []
    return [] if truth == engine else [f"{path}: truth {truth!r} engine {engine!r}"]


# DESIGN's per-queue snapshot fields; the engine may add more (it adds `staffing`, the Erlang
# view of the queue, which the simulator has no ground truth for).
QUEUE_FIELDS = ("calls_waiting", "oldest_waiting_seconds", "agents", "windows")


def compare(truth: dict, snapshot: dict) -> None:
    assert snapshot["as_of"] == truth["as_of"]
    engine_queues = {
        name: {field: queue.get(field) for field in QUEUE_FIELDS}
        for name, queue in snapshot["queues"].items()
    }
    found = differences(truth["queues"], engine_queues, "queues")
    found += differences(truth["teams"], snapshot["teams"], "teams")
    found += differences(truth["events"]["accepted"], snapshot["events"]["accepted"], "accepted")
    assert not found, "\n".join(found[:20])


def simulate(scenario_name: str, hours: float | None = None) -> tuple[list[bytes], Ledger, float]:
    scenario = load_scenario(SCENARIOS / scenario_name)
    start = scenario.default_start()
    ledger = Ledger()
    span = scenario.day_seconds if hours is None else hours * 3600
    events = Simulation(scenario, start, ledger=ledger).events(start + span)
    return [orjson.dumps(event) for _, event in events], ledger, start


KOLKATA = settings_from_mapping(
    {
        "timezone": "Asia/Kolkata",
        "windows": ["5m", "30m", "2h"],
        "interval_minutes": 60,
        "bucket_seconds": 15,
        "defaults": {"service_level_threshold_seconds": 30, "short_abandon_seconds": 10},
        "queues": {
            "sales": {"service_level_formula": "answered"},
            "support": {"service_level_formula": "removed", "service_level_threshold_seconds": 15},
        },
    },
    source="kolkata",
)


@pytest.mark.parametrize("scenario_name", ["small_centre.toml", "normal_day.toml", "peak.toml"])
@pytest.mark.parametrize("settings", [load_settings(), KOLKATA], ids=["default-config", "kolkata"])
def test_engine_snapshot_equals_ground_truth(scenario_name: str, settings: Settings) -> None:
    lines, ledger, start = simulate(scenario_name)
    assert len(lines) > 1500
    # After 1 h (an interval boundary: empty `interval`), mid-interval at the morning peak,
    # at the start of the afternoon, a bucket after a boundary, and just before closing.
    for offset in (3600, 3 * 3600 + 17 * 60 + 30, 5 * 3600, 6 * 3600 + 30 * 60 + 30, 28_770):
        as_of = start + offset
        assert as_of % settings.bucket_seconds == 0
        truth = ground_truth(ledger, settings, as_of)
        assert any(
            queue["calls_waiting"] or queue["agents"]["staffed"]
            for queue in truth["queues"].values()
        )
        compare(truth, replay_lines(lines, settings, as_of).snapshot)


def test_interval_is_empty_exactly_on_its_boundary() -> None:
    settings = load_settings()
    lines, ledger, start = simulate("normal_day.toml", hours=3)
    boundary = start + 2 * 3600
    truth = ground_truth(ledger, settings, boundary)
    later = ground_truth(ledger, settings, boundary + 10)
    for queue in truth["queues"].values():
        assert queue["windows"]["interval"]["offered"] == 0
        assert queue["windows"]["interval"]["occupancy"] is None
    assert sum(q["windows"]["interval"]["offered"] for q in later["queues"].values()) >= 0
    compare(truth, replay_lines(lines, settings, boundary).snapshot)
    compare(later, replay_lines(lines, settings, boundary + 10).snapshot)


def test_cli_truth_matches_replay_of_the_cli_output(tmp_path: Path) -> None:
    out, truth_file = tmp_path / "events.jsonl", tmp_path / "truth.json"
    at = "2026-11-23T11:00:00Z"
    result = subprocess.run(
        [
            sys.executable, "-m", "streams", "simulate",
            "--scenario", str(SCENARIOS / "peak.toml"),
            "--duration", "4h", "--ts-format", "epoch", "--bad-lines", "0.01",
            "--out", str(out), "--truth-at", at, "--truth-out", str(truth_file),
        ],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    truth = orjson.loads(truth_file.read_bytes())
    replay = subprocess.run(
        [sys.executable, "-m", "streams", "replay", str(out), "--at", at],
        capture_output=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    snapshot = orjson.loads(replay.stdout)
    compare(truth, snapshot)
    # Malformed lines before `at` are the ones the truth expects; the replay rejects all of
    # them, wherever they are (a line that cannot be read has no time to be ignored by).
    assert truth["events"]["rejected"]
    for reason, count in truth["events"]["rejected"].items():
        assert snapshot["events"]["rejected"][reason] >= count


async def _consume(
    bootstrap: str, topics: list[str], expected: int
) -> list[tuple[str, bytes, bytes]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    received: list[tuple[str, bytes, bytes]] = []
    try:
        async with asyncio.timeout(90):
            while len(received) < expected:
                batches = await consumer.getmany(timeout_ms=500)
                for partition, records in batches.items():
                    received += [(partition.topic, r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    return received


def test_events_sent_through_kafka_give_the_ground_truth(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    config = tmp_path / "ccpulse.toml"
    base = (ROOT / "config" / "ccpulse.toml").read_text()
    names = ("offered", "answered", "abandoned", "wrapup", "agent_state", "dead_letter")
    config.write_text(base + "\n[topics]\n" + "".join(f'{n} = "sim-{suffix}.{n}"\n' for n in names))
    settings = load_settings(config)
    truth_file = tmp_path / "truth.json"
    at = "2026-11-23T10:30:00Z"
    result = subprocess.run(
        [
            sys.executable, "-m", "streams", "simulate", "--to", "kafka",
            "--scenario", str(SCENARIOS / "small_centre.toml"), "--config", str(config),
            "--start", "2026-11-23T09:00:00Z", "--duration", "2h",
            "--truth-at", at, "--truth-out", str(truth_file),
        ],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
        env={**os.environ, "CCPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sent = int(re.search(r"(\d+) events", result.stderr).group(1))
    topics = [getattr(settings.topics, name) for name in names[:5]]
    received = asyncio.run(_consume(kafka_bootstrap, topics, sent))
    assert len(received) == sent
    events = []
    for topic, key, value in received:
        event = orjson.loads(value)
        assert topic == settings.topics.by_event_type()[event["type"]]
        assert key.decode() == (
            event["agent_id"] if event["type"] == "agent.state" else event["queue"]
        )
        events.append(event)
    # Topics and partitions interleave freely; the ids' running number restores the order.
    events.sort(key=lambda event: int(event["event_id"].rsplit("-", 1)[1]))
    snapshot = replay_lines(
        [orjson.dumps(e) for e in events], settings, parse_time(at, "--at")
    ).snapshot
    compare(orjson.loads(truth_file.read_bytes()), snapshot)


def test_paced_kafka_run_stamps_wall_clock_time_and_stops_on_sigterm(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """`--speed 600 --to kafka` starts now and stamps events with the wall clock (a simulated
    10 minutes per second would otherwise run ahead and be rejected as `future`); SIGTERM
    ends it cleanly after flushing."""
    suffix = uuid.uuid4().hex[:8]
    config = tmp_path / "ccpulse.toml"
    config.write_text(
        (ROOT / "config" / "ccpulse.toml").read_text()
        + f'\n[topics]\noffered = "paced-{suffix}.offered"\n'
    )
    settings = load_settings(config)
    began = time.time()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streams", "simulate", "--to", "kafka", "--speed", "600",
            "--scenario", str(SCENARIOS / "small_centre.toml"), "--config", str(config),
        ],
        stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "CCPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap},
    )  # fmt: skip
    try:
        received = asyncio.run(_consume(kafka_bootstrap, [settings.topics.offered], 20))
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "small_centre" in stderr and "Traceback" not in stderr
    finished = time.time()
    offers = [orjson.loads(value) for _, _, value in received]
    moments = [datetime.fromisoformat(offer["ts"]).timestamp() for offer in offers]
    # 20 offers take simulated minutes; stamped on the wall clock they fall inside the run.
    assert all(began - 1 <= moment <= finished + 1 for moment in moments), (began, moments)


def test_ground_truth_across_a_dst_change() -> None:
    """New York falls back on 2026-11-01 (a 25-hour local day): `today` and `interval` start
    at local midnight and local interval boundaries in both the truth and the engine."""
    scenario = scenario_from_mapping(
        {
            "scenario": {
                "date": "2026-11-01",
                "timezone": "America/New_York",
                "opens": "00:00",
                "closes": "24:00",
                "interval_minutes": 60,
            },
            "queues": {
                "q": {
                    "volume": [30] * 24,
                    "talk": {"distribution": "exponential", "mean": 200},
                    "patience": {"distribution": "exponential", "mean": 100},
                }
            },
            "agents": [
                {"count": 3, "queues": ["q"], "shift": "00:00-12:00",
                 "breaks": [{"at": "01:00", "minutes": 30}]},
                {"count": 3, "team": "late", "queues": ["q"], "shift": "11:00-24:00"},
            ],
        },
        source="dst",
    )  # fmt: skip
    settings = settings_from_mapping({"timezone": "America/New_York", "interval_minutes": 30})
    start = scenario.default_start()
    ledger = Ledger()
    events = Simulation(scenario, start, ledger=ledger).events(start + 30 * 3600)
    lines = [orjson.dumps(event) for _, event in events]
    # Every 170 minutes into the next local day, plus each 20 minutes around the repeated
    # 01:00 hour (05:00-07:00 UTC).
    moments = [start + k * 10_200 for k in range(1, 11)]
    moments += [start + 5 * 3600 + k * 1200 for k in range(7)]
    for as_of in moments:
        compare(
            ground_truth(ledger, settings, as_of), replay_lines(lines, settings, as_of).snapshot
        )
