"""The staffing gauges and the last-event gauge at scrape time, on a private registry."""

from __future__ import annotations

from streams.adapters.prometheus_collector import engine_registry
from streams.config import settings_from_mapping
from streams.kpi.engine import Engine
from tests.unit.test_staffing_in_snapshot import AS_OF, published_example


def scraped(engine: Engine):
    return engine_registry(engine, lambda: engine.snapshot(AS_OF))


def test_staffing_gauges_follow_the_snapshot() -> None:
    engine = Engine(settings_from_mapping({"staffing_window": "30m"}))
    lines = published_example(12, 0)
    engine.ingest_many(lines)
    registry = scraped(engine)
    assert registry.get_sample_value("ccpulse_agents_required", {"queue": "sales"}) == 14
    assert registry.get_sample_value("ccpulse_staffing_gap", {"queue": "sales"}) == -2
    newest = max(engine.state.seen.values())
    assert registry.get_sample_value("ccpulse_last_event_timestamp_seconds") == newest


def test_no_staffing_series_when_required_is_null() -> None:
    engine = Engine(settings_from_mapping({"queues": {"sales": {"service_level_target": 1.0}}}))
    engine.ingest_many(published_example(12, 0))
    registry = scraped(engine)
    assert registry.get_sample_value("ccpulse_agents_required", {"queue": "sales"}) is None
    assert registry.get_sample_value("ccpulse_staffing_gap", {"queue": "sales"}) is None
    assert registry.get_sample_value("ccpulse_calls_waiting", {"queue": "sales"}) == 100
