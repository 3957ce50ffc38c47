"""Write the provisioned Grafana dashboards (`dashboards/*.json`) from one Python description.

Run `python deploy/grafana/build_dashboards.py` after changing a panel; tests/deploy checks
that the committed JSON is what this script writes, so the two cannot drift. Generating the
JSON keeps panel ids unique, datasource references consistent and every panel the same size
class, which hand-edited dashboard JSON rarely stays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

# Must match provisioning/datasources/ccpulse.yml.
PROMETHEUS = {"type": "prometheus", "uid": "ccpulse-prometheus"}
REDIS = {"type": "redis-datasource", "uid": "ccpulse-redis"}

Panel = dict[str, Any]

# Wallboard colours: one meaning each, readable from across a room.
GOOD, WATCH, BAD = "green", "orange", "red"
# "150 s" rather than Grafana's auto-scaled "2.5 min": supervisors count waits in seconds.
SECONDS = "suffix: s"


def steps(*pairs: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in pairs]}


def prom(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    return {
        "datasource": PROMETHEUS,
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
        "instant": instant,
        "range": not instant,
    }


class Layout:
    """Hands out unique panel ids and grid positions, row by row (Grafana grid: 24 wide)."""

    def __init__(self) -> None:
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_height = 0

    def place(self, panel: Panel, w: int, h: int) -> Panel:
        if self.x + w > 24:
            self.newline()
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        return panel

    def newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0

    def row(self, title: str, repeat: str | None = None) -> Panel:
        self.newline()
        panel: Panel = {"type": "row", "title": title, "collapsed": False, "panels": []}
        if repeat:
            panel["repeat"] = repeat
        placed = self.place(panel, 24, 1)
        self.newline()
        return placed


def stat(
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    thresholds: dict[str, Any],
    *,
    decimals: int | None = None,
    no_value: str | None = None,
    color_mode: str = "background",
    text_mode: str = "value",
    value_size: int = 72,
    description: str = "",
    overrides: list[dict[str, Any]] | None = None,
    mappings: list[dict[str, Any]] | None = None,
) -> Panel:
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": thresholds,
        "color": {"mode": "thresholds"},
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    if no_value is not None:
        defaults["noValue"] = no_value
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": color_mode,
            "graphMode": "none",
            "justifyMode": "center",
            "orientation": "auto",
            "textMode": text_mode,
            # Fixed large sizes: auto-sizing shrinks text when a panel has two values,
            # which is unreadable on a TV across the room.
            "text": {"titleSize": 22, "valueSize": value_size},
        },
    }


def timeseries(
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    *,
    datasource: dict[str, str] = PROMETHEUS,
    thresholds: dict[str, Any] | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    description: str = "",
    overrides: list[dict[str, Any]] | None = None,
) -> Panel:
    defaults: dict[str, Any] = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "lineWidth": 2,
            "fillOpacity": 0,
            "showPoints": "never",
            "spanNulls": False,
            "thresholdsStyle": {"mode": "line" if thresholds else "off"},
        },
    }
    if thresholds:
        defaults["thresholds"] = thresholds
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def fixed_color(ref: str, color: str) -> dict[str, Any]:
    return {
        "matcher": {"id": "byFrameRefID", "options": ref},
        "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
    }


def named_color(name: str, color: str) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
    }


def queue_variable(multi: bool = True) -> dict[str, Any]:
    return {
        "name": "queue",
        "label": "Queue",
        "type": "query",
        "datasource": PROMETHEUS,
        "query": {"query": "label_values(ccpulse_service_level_target_ratio, queue)", "refId": "Q"},
        "definition": "label_values(ccpulse_service_level_target_ratio, queue)",
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def window_variable(default: str) -> dict[str, Any]:
    windows = ["5m", "15m", "60m", "interval", "today"]
    return {
        "name": "window",
        "label": "Window",
        "type": "custom",
        "query": ",".join(windows),
        "multi": False,
        "includeAll": False,
        "current": {"selected": True, "text": default, "value": default},
        "options": [{"selected": w == default, "text": w, "value": w} for w in windows],
    }


def dashboard(
    uid: str,
    title: str,
    panels: list[Panel],
    variables: list[dict[str, Any]],
    refresh: str,
    time_from: str,
    tags: list[str],
    description: str,
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": tags,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
        "timezone": "browser",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


# --- wallboard -------------------------------------------------------------------------------

Q = 'queue=~"$queue"'
QW = 'queue=~"$queue", window="$window"'

# --- data freshness ----------------------------------------------------------------------------
# `ccpulse_snapshot_as_of_seconds` has no queue label: it is the as_of of everything one worker
# exposes. A queue's figures are as old as the as_of of the worker(s) exporting that queue, so
# the as_of is joined on the scrape target (job, instance) onto a series every exported queue
# has (the service-level target, which is also what the queue variable lists).
_QUEUE_AS_OF = (
    "ccpulse_snapshot_as_of_seconds + on (job, instance) group_right ()"
    f" (0 * ccpulse_service_level_target_ratio{{{Q}}})"
)
# A worker that loses Kafka (or its state, or stops) exports no queue series at all, while the
# range-query panels keep showing their last values. So the age is taken from the last as_of
# at which each worker exported the queue, looked back an hour: it keeps growing while the
# figures stay frozen, instead of vanishing. The 5 s subquery step is the scrape interval;
# the instant term gives the exact age while the queue is exported. The freshest worker wins
# (after a partition hand-over the previous owner's last as_of is history, not a frozen queue).
# An as_of ahead of Prometheus's clock (a producer's clock ahead) counts as 0 s old.
FIGURE_AGE = (
    "clamp_min(time() - max by (queue) ("
    f"{_QUEUE_AS_OF} or last_over_time(({_QUEUE_AS_OF})[1h:5s])"
    "), 0)"
)
# Figures older than this are stale: as_of is up to one publish interval old when scraped and
# the last scrape up to 5 s old, so 15 s means two missed scrapes or a worker that has stopped
# exporting (ccpulse top marks a queue stale after five 1 s publish intervals, at least 10 s).
STALE_AFTER_SECONDS = 15
KAFKA_UP_DOWN = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": BAD, "index": 0},
            "1": {"text": "OK", "color": GOOD, "index": 1},
        },
    }
]


def wallboard() -> dict[str, Any]:
    layout = Layout()
    panels: list[Panel] = [layout.row("$queue", repeat="queue")]
    # Every expression aggregates `by (queue)`: during a partition hand-over two workers can
    # export the same queue; the wallboard then shows the worse value, like the alert rules.
    panels.append(
        layout.place(
            stat(
                "Service level ($window)",
                [
                    prom(f"min by (queue) (ccpulse_service_level_ratio{{{QW}}})", "Now", "A"),
                    prom(
                        f"max by (queue) (ccpulse_service_level_target_ratio{{{Q}}})",
                        "Target",
                        "B",
                    ),
                ],
                "percentunit",
                steps((None, "text")),
                decimals=0,
                color_mode="value",
                text_mode="value_and_name",
                value_size=64,
                no_value="no calls",
                description="Answered within the queue's threshold, by the queue's formula.",
            ),
            5,
            7,
        )
    )
    panels.append(
        layout.place(
            stat(
                "vs target",
                [
                    prom(
                        f"min by (queue) (ccpulse_service_level_ratio{{{QW}}})"
                        f" - on (queue) max by (queue) (ccpulse_service_level_target_ratio{{{Q}}})"
                    )
                ],
                "percentunit",
                # Same tiers as the alerts: under target warns, >10 points under is critical.
                steps((None, BAD), (-0.10, WATCH), (0, GOOD)),
                decimals=0,
                no_value="-",
                description="Service level minus the queue's own target, in points.",
            ),
            3,
            7,
        )
    )
    panels.append(
        layout.place(
            stat(
                "Calls waiting",
                [prom(f"max by (queue) (ccpulse_calls_waiting{{{Q}}})")],
                "none",
                steps((None, GOOD), (5, WATCH), (10, BAD)),
                decimals=0,
                no_value="0",
            ),
            3,
            7,
        )
    )
    panels.append(
        layout.place(
            stat(
                "Oldest waiting",
                [prom(f"max by (queue) (ccpulse_oldest_call_waiting_seconds{{{Q}}})")],
                SECONDS,
                steps((None, GOOD), (60, WATCH), (120, BAD)),
                decimals=0,
                no_value="none",
            ),
            3,
            7,
        )
    )
    panels.append(
        layout.place(
            stat(
                "ASA ($window)",
                [prom(f"max by (queue) (ccpulse_asa_seconds{{{QW}}})")],
                SECONDS,
                steps((None, GOOD), (20, WATCH), (30, BAD)),
                decimals=0,
                no_value="-",
            ),
            3,
            7,
        )
    )
    panels.append(
        layout.place(
            stat(
                "Abandoned ($window)",
                [prom(f"max by (queue) (ccpulse_abandon_ratio{{{QW}}})")],
                "percentunit",
                steps((None, GOOD), (0.03, WATCH), (0.05, BAD)),
                decimals=1,
                no_value="-",
            ),
            3,
            7,
        )
    )
    panels.append(
        layout.place(
            stat(
                "Staffing gap",
                [
                    prom(f"min by (queue) (ccpulse_staffing_gap{{{Q}}})", "Gap", "A"),
                    prom(f"max by (queue) (ccpulse_agents_required{{{Q}}})", "Required", "B"),
                ],
                "none",
                steps((None, BAD), (0, GOOD)),
                decimals=0,
                color_mode="value",
                text_mode="value_and_name",
                value_size=64,
                no_value="-",
                description="Productive agents minus agents required (Erlang C); negative = short.",
                overrides=[fixed_color("B", "text")],
            ),
            4,
            7,
        )
    )
    layout.newline()
    states = ["available", "on_call", "wrap_up", "not_ready", "staffed"]
    state_colors = {
        "available": GOOD,
        "on_call": "blue",
        "wrap_up": "purple",
        "not_ready": WATCH,
        "staffed": "text",
    }
    panels.append(
        layout.place(
            stat(
                "Agents",
                [
                    prom(
                        f'max by (state) (ccpulse_agents{{{Q}, state=~"{"|".join(states)}"}})',
                        "{{state}}",
                    )
                ],
                "none",
                steps((None, "text")),
                decimals=0,
                color_mode="value",
                text_mode="value_and_name",
                value_size=56,
                no_value="0",
                overrides=[named_color(s, c) for s, c in state_colors.items()],
            ),
            18,
            5,
        )
    )
    # Instant queries: a range query reduced to its last non-null point would keep showing a
    # value (green) for a series that has gone. No data has the base colour: red.
    panels.append(
        layout.place(
            stat(
                "Data age",
                [prom(FIGURE_AGE, instant=True)],
                SECONDS,
                steps((None, BAD), (0, GOOD), (STALE_AFTER_SECONDS, BAD)),
                decimals=0,
                no_value="no data",
                value_size=48,
                description=(
                    "Seconds since the as_of of this queue's figures (now minus "
                    "ccpulse_snapshot_as_of_seconds of the worker exporting the queue). Red "
                    f"from {STALE_AFTER_SECONDS} s: the worker lost Kafka, stopped or is not "
                    "scraped, and the figures on this row are frozen. No data: no worker has "
                    "exported the queue for an hour."
                ),
            ),
            3,
            5,
        )
    )
    panels.append(
        layout.place(
            stat(
                "Kafka",
                [prom("min(ccpulse_kafka_connected)", instant=True)],
                "none",
                steps((None, BAD), (1, GOOD)),
                decimals=0,
                no_value="no data",
                value_size=48,
                mappings=KAFKA_UP_DOWN,
                description=(
                    "All workers (not only this queue's): DOWN when any worker has had no "
                    "answer from Kafka for 10 s; its queues' figures are frozen until Kafka "
                    "answers. No data: no worker is being scraped."
                ),
            ),
            3,
            5,
        )
    )
    return dashboard(
        "ccpulse-wallboard",
        "ccpulse wallboard",
        panels,
        [queue_variable(), window_variable("15m")],
        refresh="5s",
        time_from="now-15m",
        tags=["ccpulse", "wallboard"],
        description="Per-queue live KPIs for a TV wallboard; one row per selected queue.",
    )


# --- analyst ---------------------------------------------------------------------------------


def analyst() -> dict[str, Any]:
    layout = Layout()
    panels: list[Panel] = []

    panels.append(layout.row("Service level"))
    panels.append(
        layout.place(
            timeseries(
                "Service level ($window) and target",
                [
                    prom(
                        f"min by (queue) (ccpulse_service_level_ratio{{{QW}}})",
                        "{{queue}}",
                        "A",
                    ),
                    prom(
                        f"max by (queue) (ccpulse_service_level_target_ratio{{{Q}}})",
                        "{{queue}} target",
                        "B",
                    ),
                ],
                "percentunit",
                min_value=0,
                max_value=1,
                overrides=[
                    {
                        "matcher": {"id": "byFrameRefID", "options": "B"},
                        "properties": [
                            {
                                "id": "custom.lineStyle",
                                "value": {"fill": "dash", "dash": [10, 10]},
                            }
                        ],
                    }
                ],
            ),
            16,
            9,
        )
    )
    panels.append(
        layout.place(
            {
                "type": "bargauge",
                "title": "Service level per window (now)",
                "description": "Every window of every selected queue, to compare short and long.",
                "datasource": PROMETHEUS,
                "targets": [
                    prom(
                        f"min by (queue, window) (ccpulse_service_level_ratio{{{Q}}})",
                        "{{queue}} {{window}}",
                        instant=True,
                    )
                ],
                "fieldConfig": {
                    "defaults": {
                        "unit": "percentunit",
                        "min": 0,
                        "max": 1,
                        "decimals": 1,
                        "color": {"mode": "thresholds"},
                        "thresholds": steps((None, BAD), (0.7, WATCH), (0.8, GOOD)),
                    },
                    "overrides": [],
                },
                "options": {
                    "orientation": "horizontal",
                    "displayMode": "basic",
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                },
            },
            8,
            9,
        )
    )

    panels.append(layout.row("Volumes ($window window)"))
    for title, metric in [
        ("Offered", "ccpulse_window_calls_offered"),
        ("Answered", "ccpulse_window_calls_answered"),
        ("Abandoned", "ccpulse_window_calls_abandoned"),
    ]:
        panels.append(
            layout.place(
                timeseries(
                    f"{title} ($window)",
                    [prom(f"max by (queue) ({metric}{{{QW}}})", "{{queue}}")],
                    "none",
                    min_value=0,
                ),
                8,
                8,
            )
        )
    panels.append(
        layout.place(
            timeseries(
                "Calls per hour (counters)",
                [
                    prom(
                        f"sum by (queue) (increase(ccpulse_calls_offered_total{{{Q}}}[1h]))",
                        "{{queue}} offered",
                        "A",
                    ),
                    prom(
                        f"sum by (queue) (increase(ccpulse_calls_answered_total{{{Q}}}[1h]))",
                        "{{queue}} answered",
                        "B",
                    ),
                    prom(
                        "sum by (queue) "
                        f"(increase(ccpulse_calls_answered_within_threshold_total{{{Q}}}[1h]))",
                        "{{queue}} within threshold",
                        "C",
                    ),
                    prom(
                        f"sum by (queue) (increase(ccpulse_calls_abandoned_total{{{Q}}}[1h]))",
                        "{{queue}} abandoned",
                        "D",
                    ),
                ],
                "none",
                min_value=0,
                description="Rolling hour from the _total counters, summed over workers.",
            ),
            24,
            8,
        )
    )

    panels.append(layout.row("Speed and handling ($window window)"))
    panels.append(
        layout.place(
            timeseries(
                "ASA ($window)",
                [prom(f"max by (queue) (ccpulse_asa_seconds{{{QW}}})", "{{queue}}")],
                "s",
                thresholds=steps((None, GOOD), (30, BAD)),
                min_value=0,
            ),
            8,
            8,
        )
    )
    panels.append(
        layout.place(
            timeseries(
                "Abandon rate ($window)",
                [prom(f"max by (queue) (ccpulse_abandon_ratio{{{QW}}})", "{{queue}}")],
                "percentunit",
                thresholds=steps((None, GOOD), (0.05, BAD)),
                min_value=0,
            ),
            8,
            8,
        )
    )
    panels.append(
        layout.place(
            timeseries(
                "AHT ($window)",
                [prom(f"max by (queue) (ccpulse_aht_seconds{{{QW}}})", "{{queue}}")],
                "s",
                min_value=0,
                description="Talk + hold + after-call work per handled call.",
            ),
            8,
            8,
        )
    )

    panels.append(layout.row("Occupancy and staffing"))
    panels.append(
        layout.place(
            timeseries(
                "Team occupancy ($window)",
                [
                    prom(
                        'max by (team) (ccpulse_team_occupancy_ratio{team=~"$team", '
                        'window="$window"})',
                        "{{team}}",
                    )
                ],
                "percentunit",
                thresholds=steps((None, GOOD), (0.85, BAD)),
                min_value=0,
                max_value=1,
            ),
            8,
            8,
        )
    )
    panels.append(
        layout.place(
            timeseries(
                "Queue occupancy ($window)",
                [prom(f"max by (queue) (ccpulse_occupancy_ratio{{{QW}}})", "{{queue}}")],
                "percentunit",
                min_value=0,
                max_value=1,
            ),
            8,
            8,
        )
    )
    panels.append(
        layout.place(
            timeseries(
                "Agents required vs productive",
                [
                    prom(
                        f"max by (queue) (ccpulse_agents_required{{{Q}}})",
                        "{{queue}} required",
                        "A",
                    ),
                    prom(
                        f"max by (queue) (ccpulse_agents_required{{{Q}}})"
                        f" + on (queue) min by (queue) (ccpulse_staffing_gap{{{Q}}})",
                        "{{queue}} productive",
                        "B",
                    ),
                ],
                "none",
                min_value=0,
                description="Required from Erlang C; productive = required + staffing gap.",
            ),
            8,
            8,
        )
    )

    panels.append(layout.row("Live snapshot (Redis)"))
    panels.append(
        layout.place(
            {
                "type": "table",
                "title": "Snapshot fields of $queue",
                "description": "HASH ccpulse:queue:<queue> as published by the worker.",
                "datasource": REDIS,
                "repeat": "queue",
                "repeatDirection": "h",
                "maxPerRow": 3,
                "targets": [
                    {
                        "datasource": REDIS,
                        "refId": "A",
                        "type": "command",
                        "command": "hgetall",
                        "keyName": "ccpulse:queue:$queue",
                        "query": "",
                        "streaming": False,
                    }
                ],
                "fieldConfig": {"defaults": {}, "overrides": []},
                "options": {"showHeader": True},
            },
            8,
            10,
        )
    )

    panels.append(layout.row("Data freshness"))
    panels.append(
        layout.place(
            timeseries(
                "Figure age and Kafka connection",
                [
                    prom(FIGURE_AGE, "{{queue}} age", "A"),
                    prom(
                        "min by (instance) (ccpulse_kafka_connected)",
                        "{{instance}} Kafka connected",
                        "B",
                    ),
                ],
                "s",
                thresholds=steps((None, GOOD), (STALE_AFTER_SECONDS, BAD)),
                min_value=0,
                description=(
                    "Age of each queue's figures (left axis; a ramp is a period of frozen "
                    "figures) and, per worker, whether it reaches Kafka (right axis, 1/0). "
                    "Age growing while Kafka is 1 points at the worker itself or at scraping."
                ),
                overrides=[
                    {
                        "matcher": {"id": "byFrameRefID", "options": "B"},
                        "properties": [
                            {"id": "unit", "value": "none"},
                            {"id": "decimals", "value": 0},
                            {"id": "min", "value": 0},
                            {"id": "max", "value": 1},
                            {"id": "custom.axisPlacement", "value": "right"},
                            {"id": "custom.axisLabel", "value": "Kafka connected"},
                            {"id": "custom.lineInterpolation", "value": "stepAfter"},
                            {"id": "custom.thresholdsStyle", "value": {"mode": "off"}},
                        ],
                    }
                ],
            ),
            24,
            8,
        )
    )

    team_variable = {
        "name": "team",
        "label": "Team",
        "type": "query",
        "datasource": PROMETHEUS,
        "query": {"query": "label_values(ccpulse_team_occupancy_ratio, team)", "refId": "T"},
        "definition": "label_values(ccpulse_team_occupancy_ratio, team)",
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }
    return dashboard(
        "ccpulse-analyst",
        "ccpulse analyst",
        panels,
        [queue_variable(), window_variable("15m"), team_variable],
        refresh="30s",
        time_from="now-6h",
        tags=["ccpulse", "analyst"],
        description="Windows and trends for real-time and workforce analysts.",
    )


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=False) + "\n"


def build() -> dict[str, str]:
    """File name -> JSON text of every provisioned dashboard."""
    return {
        "ccpulse-wallboard.json": render(wallboard()),
        "ccpulse-analyst.json": render(analyst()),
    }


def main() -> None:
    DASHBOARD_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in build().items():
        (DASHBOARD_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {DASHBOARD_DIR / name}")


if __name__ == "__main__":
    main()
