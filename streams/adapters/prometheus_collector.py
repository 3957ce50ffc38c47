"""Prometheus metrics computed at scrape time from the engine (DESIGN.md, "Outputs").

A custom collector: every scrape builds fresh metric families from `engine.snapshot(...)` and
`engine.stats`, so nothing is kept in sync by hand and no series outlives its queue. Register it
in an own `CollectorRegistry`, never the global one. Null metrics produce no sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from streams.kpi.engine import Engine

# (metric name, window field, help)
WINDOW_GAUGES = (
    ("ccpulse_service_level_ratio", "service_level", "Service level of the window (0..1)."),
    ("ccpulse_asa_seconds", "asa_seconds", "Average speed of answer in the window."),
    ("ccpulse_abandon_ratio", "abandon_rate", "Abandon rate of the window (0..1)."),
    ("ccpulse_aht_seconds", "aht_seconds", "Average handle time in the window."),
    ("ccpulse_occupancy_ratio", "occupancy", "Agent occupancy in the window (0..1)."),
    ("ccpulse_window_calls_offered", "offered", "Calls offered in the window."),
    ("ccpulse_window_calls_answered", "answered", "Calls answered in the window."),
    ("ccpulse_window_calls_abandoned", "abandoned", "Calls abandoned in the window."),
)
AGENT_STATES = ("staffed", "available", "on_call", "wrap_up", "not_ready")
CALL_COUNTERS = (
    ("ccpulse_calls_offered", "offered", "Calls offered, counted by this process."),
    ("ccpulse_calls_answered", "answered", "Calls answered, counted by this process."),
    (
        "ccpulse_calls_answered_within_threshold",
        "answered_within_threshold",
        "Calls answered within the queue's service-level threshold, counted by this process.",
    ),
    ("ccpulse_calls_abandoned", "abandoned", "Calls abandoned, counted by this process."),
)


class EngineCollector(Collector):
    """Collects every ccpulse metric from one engine.

    `snapshot_of` returns the snapshot to expose (the worker passes one that covers only the
    queues and teams it owns, or None while its state is still being recovered or Kafka does
    not answer: then only the process counters are exposed)."""

    def __init__(
        self,
        engine: Engine,
        snapshot_of: Callable[[], dict[str, Any] | None] | None = None,
        clock: Callable[[], float] = time.time,
        kafka_connected: Callable[[], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.snapshot_of = snapshot_of or self._whole_snapshot
        self.kafka_connected = kafka_connected  # the worker's; None: no such gauge

    def _whole_snapshot(self) -> dict[str, Any]:
        return self.engine.snapshot(self.engine.live_as_of(self.clock()))

    def describe(self) -> Iterable[Metric]:
        return []  # families are built at scrape time; nothing to pre-declare

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot_of()
        if snapshot is not None:
            yield from self._state_metrics(snapshot)
        yield from self._process_counters()

    def _state_metrics(self, snapshot: dict[str, Any]) -> Iterator[Metric]:
        queues = snapshot["queues"]
        settings = self.engine.settings
        as_of = GaugeMetricFamily(
            "ccpulse_snapshot_as_of_seconds",
            "The as_of (epoch seconds) of the state this scrape exposes.",
        )
        as_of.add_metric((), datetime.fromisoformat(snapshot["as_of"]).timestamp())
        yield as_of
        for name, field, documentation in WINDOW_GAUGES:
            family = GaugeMetricFamily(name, documentation, labels=("queue", "window"))
            for queue, data in queues.items():
                for window, values in data["windows"].items():
                    value = values.get(field)
                    if value is not None:
                        family.add_metric((queue, window), value)
            yield family
        team_family = GaugeMetricFamily(
            "ccpulse_team_occupancy_ratio",
            "Agent occupancy of the team in the window (0..1).",
            labels=("team", "window"),
        )
        for team, data in snapshot.get("teams", {}).items():
            for window, values in data["windows"].items():
                if values.get("occupancy") is not None:
                    team_family.add_metric((team, window), values["occupancy"])
        yield team_family
        waiting = GaugeMetricFamily(
            "ccpulse_calls_waiting", "Calls waiting in the queue now.", labels=("queue",)
        )
        oldest = GaugeMetricFamily(
            "ccpulse_oldest_call_waiting_seconds",
            "Seconds the oldest waiting call has waited.",
            labels=("queue",),
        )
        agents = GaugeMetricFamily(
            "ccpulse_agents", "Agents serving the queue, by state.", labels=("queue", "state")
        )
        target = GaugeMetricFamily(
            "ccpulse_service_level_target_ratio",
            "The queue's service-level target (0..1).",
            labels=("queue",),
        )
        required = GaugeMetricFamily(
            "ccpulse_agents_required",
            "Agents the queue needs now for its service-level target (Erlang C).",
            labels=("queue",),
        )
        gap = GaugeMetricFamily(
            "ccpulse_staffing_gap",
            "Productive agents minus agents required (negative: short).",
            labels=("queue",),
        )
        for queue, data in queues.items():
            staffing = data.get("staffing") or {}
            if staffing.get("required_agents") is not None:
                required.add_metric((queue,), staffing["required_agents"])
            if staffing.get("gap") is not None:
                gap.add_metric((queue,), staffing["gap"])
            waiting.add_metric((queue,), data["calls_waiting"])
            if data["oldest_waiting_seconds"] is not None:
                oldest.add_metric((queue,), data["oldest_waiting_seconds"])
            for state in AGENT_STATES:
                agents.add_metric((queue, state), data["agents"][state])
            target.add_metric((queue,), settings.for_queue(queue).service_level_target)
        yield from (waiting, oldest, agents, target, required, gap)

    def _process_counters(self) -> Iterator[Metric]:
        stats = self.engine.stats
        for name, field, documentation in CALL_COUNTERS:
            family = CounterMetricFamily(name, documentation, labels=("queue",))
            for queue, totals in sorted(stats.calls.items()):
                family.add_metric((queue,), getattr(totals, field))
            yield family
        events = CounterMetricFamily(
            "ccpulse_events", "Accepted events by type, counted by this process.", labels=("type",)
        )
        for event_type, count in sorted(stats.by_type.items()):
            events.add_metric((event_type,), count)
        yield events
        rejected = CounterMetricFamily(
            "ccpulse_events_rejected",
            "Rejected events by reason, counted by this process.",
            labels=("reason",),
        )
        for reason, count in sorted(stats.rejected.items()):
            rejected.add_metric((reason,), count)
        yield rejected
        duplicates = CounterMetricFamily(
            "ccpulse_events_duplicate", "Duplicate events ignored, counted by this process."
        )
        duplicates.add_metric((), stats.duplicates)
        yield duplicates
        last = GaugeMetricFamily(
            "ccpulse_last_event_timestamp_seconds",
            "Event time (epoch seconds) of the newest accepted event.",
        )
        if stats.last_event_ts is not None:
            last.add_metric((), stats.last_event_ts)
        yield last
        if self.kafka_connected is not None:
            connected = GaugeMetricFamily(
                "ccpulse_kafka_connected",
                "1 while Kafka answers the worker; 0 after CCPULSE_KAFKA_SILENCE_SECONDS without "
                "an answer (the KPI gauges and Redis publishes pause meanwhile).",
            )
            connected.add_metric((), 1.0 if self.kafka_connected() else 0.0)
            yield connected


def engine_registry(
    engine: Engine,
    snapshot_of: Callable[[], dict[str, Any] | None] | None = None,
    kafka_connected: Callable[[], bool] | None = None,
) -> CollectorRegistry:
    """A fresh registry holding only the engine collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engine, snapshot_of, kafka_connected=kafka_connected))
    return registry
