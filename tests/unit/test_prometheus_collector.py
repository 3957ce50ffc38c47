"""The Prometheus collector against a hand-built engine fed with events: a private registry per
test, values read back with `registry.get_sample_value`."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import REGISTRY

from streams.adapters.prometheus_collector import EngineCollector, engine_registry
from streams.config import settings_from_mapping
from streams.kpi.engine import Engine

T0 = 1_795_000_000.0  # a multiple of 10 s: windows are exact at T0 + k * 10


def line(kind: str, event_id: str, ts: float, **fields: object) -> bytes:
    return orjson.dumps({"type": kind, "event_id": event_id, "ts": ts, **fields})


@pytest.fixture
def engine() -> Engine:
    settings = settings_from_mapping(
        {"queues": {"vip": {"service_level_threshold_seconds": 10, "service_level_target": 0.9}}}
    )
    engine = Engine(settings)
    events = [
        line(
            "agent.state", "s1", T0, agent_id="a1", state="available", queues=["sales"], team="t1"
        ),
        line(
            "agent.state",
            "s2",
            T0,
            agent_id="a2",
            state="not_ready",
            queues=["sales", "vip"],
            team="t1",
        ),
        line("call.offered", "o1", T0 + 1, call_id="c1", queue="sales"),
        line("call.offered", "o2", T0 + 2, call_id="c2", queue="sales"),
        line("call.offered", "o3", T0 + 3, call_id="c3", queue="sales"),
        line("call.offered", "o4", T0 + 4, call_id="c4", queue="vip"),
        line(
            "call.answered",
            "n1",
            T0 + 11,
            call_id="c1",
            queue="sales",
            agent_id="a1",
            wait_seconds=10,
        ),
        line(
            "agent.state",
            "s3",
            T0 + 11,
            agent_id="a1",
            state="on_call",
            queues=["sales"],
            team="t1",
        ),
        line("call.abandoned", "x2", T0 + 32, call_id="c2", queue="sales", wait_seconds=30),
        line(
            "call.answered",
            "n1",
            T0 + 11,
            call_id="c1",
            queue="sales",
            agent_id="a1",
            wait_seconds=10,
        ),  # duplicate
        b"not json",
    ]
    for raw in events:
        engine.ingest(raw)
    return engine


def snapshot_at(engine: Engine, as_of: float):
    return lambda: engine.snapshot(as_of)


def test_window_gauges_match_the_snapshot(engine):
    registry = engine_registry(engine, snapshot_at(engine, T0 + 60))
    value = registry.get_sample_value
    labels = {"queue": "sales", "window": "15m"}
    assert value("ccpulse_window_calls_offered", labels) == 3
    assert value("ccpulse_window_calls_answered", labels) == 1
    assert value("ccpulse_window_calls_abandoned", labels) == 1
    # offered formula: 1 within 20 s of (1 answered + 1 abandoned - 0 short)
    assert value("ccpulse_service_level_ratio", labels) == 0.5
    assert value("ccpulse_abandon_ratio", labels) == 0.5
    assert value("ccpulse_asa_seconds", labels) == 10.0
    assert value("ccpulse_calls_waiting", {"queue": "sales"}) == 1
    assert value("ccpulse_oldest_call_waiting_seconds", {"queue": "sales"}) == 57.0
    assert value("ccpulse_agents", {"queue": "sales", "state": "on_call"}) == 1
    assert value("ccpulse_agents", {"queue": "sales", "state": "not_ready"}) == 1
    assert value("ccpulse_agents", {"queue": "sales", "state": "staffed"}) == 2
    assert value("ccpulse_agents", {"queue": "vip", "state": "staffed"}) == 1
    assert value("ccpulse_service_level_target_ratio", {"queue": "vip"}) == 0.9
    assert value("ccpulse_service_level_target_ratio", {"queue": "sales"}) == 0.8
    # a1: available 11 s then on call 49 s; a2 not ready (neither busy nor idle)
    assert value("ccpulse_occupancy_ratio", labels) == pytest.approx(49 / 60)
    assert value("ccpulse_team_occupancy_ratio", {"team": "t1", "window": "15m"}) == (
        pytest.approx(49 / 60)
    )
    assert value("ccpulse_snapshot_as_of_seconds") == T0 + 60


def test_null_metrics_have_no_series(engine):
    registry = engine_registry(engine, snapshot_at(engine, T0 + 60))
    value = registry.get_sample_value
    vip = {"queue": "vip", "window": "15m"}
    assert value("ccpulse_window_calls_offered", vip) == 1
    for name in (
        "ccpulse_service_level_ratio",
        "ccpulse_asa_seconds",
        "ccpulse_aht_seconds",
        "ccpulse_abandon_ratio",
        "ccpulse_occupancy_ratio",
    ):
        assert value(name, vip) is None, name
    assert value("ccpulse_aht_seconds", {"queue": "sales", "window": "15m"}) is None  # no wrapup
    assert b"NaN" not in generate_latest(registry)


def test_process_counters_come_from_engine_stats(engine):
    registry = engine_registry(engine, snapshot_at(engine, T0 + 60))
    value = registry.get_sample_value
    assert value("ccpulse_calls_offered_total", {"queue": "sales"}) == 3
    assert value("ccpulse_calls_answered_total", {"queue": "sales"}) == 1
    assert value("ccpulse_calls_answered_within_threshold_total", {"queue": "sales"}) == 1
    assert value("ccpulse_calls_abandoned_total", {"queue": "sales"}) == 1
    assert value("ccpulse_events_total", {"type": "call.offered"}) == 4
    assert value("ccpulse_events_total", {"type": "agent.state"}) == 3
    assert value("ccpulse_events_rejected_total", {"reason": "invalid_json"}) == 1
    assert value("ccpulse_events_duplicate_total") == 1
    assert value("ccpulse_last_event_timestamp_seconds") == T0 + 32


def test_values_are_computed_at_scrape_time(engine):
    moment = [T0 + 60]
    registry = engine_registry(engine, lambda: engine.snapshot(moment[0]))
    assert registry.get_sample_value("ccpulse_calls_waiting", {"queue": "sales"}) == 1
    engine.ingest(
        line(
            "call.answered",
            "n3",
            T0 + 65,
            call_id="c3",
            queue="sales",
            agent_id="a2",
            wait_seconds=62,
        )
    )
    moment[0] = T0 + 70
    assert registry.get_sample_value("ccpulse_calls_waiting", {"queue": "sales"}) == 0
    assert registry.get_sample_value("ccpulse_calls_answered_total", {"queue": "sales"}) == 2


def test_without_state_only_process_metrics_and_never_the_global_registry(engine):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engine, lambda: None))  # e.g. while recovering
    assert registry.get_sample_value("ccpulse_calls_waiting", {"queue": "sales"}) is None
    assert registry.get_sample_value("ccpulse_calls_offered_total", {"queue": "sales"}) == 3
    assert REGISTRY.get_sample_value("ccpulse_calls_offered_total", {"queue": "sales"}) is None


def test_kafka_connected_gauge_follows_the_worker_at_scrape_time(engine):
    connected = [True]
    registry = engine_registry(engine, snapshot_at(engine, T0 + 60), lambda: connected[0])
    assert registry.get_sample_value("ccpulse_kafka_connected") == 1.0
    connected[0] = False
    assert registry.get_sample_value("ccpulse_kafka_connected") == 0.0
    # replay and other engines without a Kafka consumer have no such gauge
    assert engine_registry(engine).get_sample_value("ccpulse_kafka_connected") is None
