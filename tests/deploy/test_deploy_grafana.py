"""Grafana: provisioning, dashboard structure, and every PromQL expression checked by promtool."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from deploy_helpers import (
    DEPLOY,
    WORKER_METRICS,
    assert_ok,
    dump_yaml,
    load_yaml,
    metric_names,
    run_tool,
)

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
WALLBOARD = GRAFANA / "dashboards" / "ccpulse-wallboard.json"
ANALYST = GRAFANA / "dashboards" / "ccpulse-analyst.json"

# Values substituted for dashboard variables before promtool sees an expression. They must be
# valid wherever the variable appears: inside a regex matcher (`queue=~"$queue"`), an equality
# matcher (`window="$window"`) or a range (`[$__rate_interval]`).
VARIABLE_VALUES = {
    "queue": ".*",
    "team": ".*",
    "window": "15m",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_dashboards", GRAFANA / "build_dashboards.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def all_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def prometheus_targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in all_panels(board):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield panel, target


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        return VARIABLE_VALUES[match.group(1) or match.group(2)]

    return _VARIABLE.sub(value, expr)


def provisioned_datasources() -> dict[str, dict[str, Any]]:
    doc = load_yaml(GRAFANA / "provisioning" / "datasources" / "ccpulse.yml")
    return {source["uid"]: source for source in doc["datasources"]}


@pytest.fixture(params=DASHBOARDS, ids=lambda p: p.name)
def board(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def test_both_dashboards_exist() -> None:
    assert {p.name for p in DASHBOARDS} == {"ccpulse-wallboard.json", "ccpulse-analyst.json"}


def test_committed_dashboards_are_what_the_builder_writes() -> None:
    built = load_builder().build()
    for name, text in built.items():
        committed = (GRAFANA / "dashboards" / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} is stale: run python deploy/grafana/build_dashboards.py"


def test_panel_ids_are_unique(board: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in all_panels(board)]
    assert len(ids) == len(set(ids))
    assert all(isinstance(i, int) for i in ids)


def test_panels_fit_the_grid_without_overlap(board: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in all_panels(board):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))


def test_every_datasource_uid_is_provisioned(board: dict[str, Any]) -> None:
    provisioned = provisioned_datasources()
    refs = [panel.get("datasource") for panel in all_panels(board) if panel["type"] != "row"]
    refs += [t["datasource"] for p in all_panels(board) for t in p.get("targets", [])]
    refs += [v["datasource"] for v in board["templating"]["list"] if "datasource" in v]
    assert refs
    for ref in refs:
        assert ref["uid"] in provisioned, f"datasource uid {ref['uid']} is not provisioned"
        assert ref["type"] == provisioned[ref["uid"]]["type"]


def test_every_variable_used_is_defined(board: dict[str, Any]) -> None:
    defined = {v["name"] for v in board["templating"]["list"]}
    used = set()
    for text in strings_in(board["panels"]):
        for match in _VARIABLE.finditer(text):
            used.add(match.group(1) or match.group(2))
    builtin = {name for name in used if name.startswith("__")}
    assert used - builtin <= defined, f"undefined variables: {used - builtin - defined}"
    assert builtin <= VARIABLE_VALUES.keys()


def test_every_expression_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    """All dashboard expressions, variables substituted, as recording rules for promtool."""
    rules = []
    for path in DASHBOARDS:
        for index, (_, target) in enumerate(prometheus_targets(load(path))):
            rules.append(
                {
                    "record": f"dashboard:{path.stem.replace('-', '_')}:{index}",
                    "expr": substitute(target["expr"]),
                }
            )
    assert len(rules) >= 20
    rules_file = dump_yaml({"groups": [{"name": "dashboards", "rules": rules}]}, tmp_path / "d.yml")
    result = run_tool([promtool, "check", "rules", str(rules_file)])
    assert_ok(result)
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_expressions_use_only_worker_metrics_and_labels(board: dict[str, Any]) -> None:
    for panel, target in prometheus_targets(board):
        names = metric_names(target["expr"])
        assert names, f"{panel['title']}: no ccpulse metric in {target['expr']}"
        assert names <= WORKER_METRICS.keys(), f"{panel['title']}: unknown {names}"
        for name, labels in re.findall(r"(ccpulse_\w+)\{([^}]*)\}", target["expr"]):
            used = set(re.findall(r"(\w+)\s*=~?", labels))
            assert used <= WORKER_METRICS[name], f"{panel['title']}: {name} has no {used}"
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert metric_names(variable["definition"]) <= WORKER_METRICS.keys()


def test_wallboard_is_a_5s_tv_board_with_every_queue_kpi() -> None:
    board = load(WALLBOARD)
    assert board["refresh"] == "5s"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["queue"]["includeAll"] and variables["queue"]["multi"]
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert rows and rows[0].get("repeat") == "queue", "one row per selected queue"
    exprs = " ".join(t["expr"] for _, t in prometheus_targets(board))
    for metric in (
        "ccpulse_service_level_ratio",
        "ccpulse_service_level_target_ratio",
        "ccpulse_calls_waiting",
        "ccpulse_oldest_call_waiting_seconds",
        "ccpulse_asa_seconds",
        "ccpulse_abandon_ratio",
        "ccpulse_agents",
        "ccpulse_staffing_gap",
    ):
        assert metric + "{" in exprs, metric
    for panel in all_panels(board):
        if panel["type"] == "stat":
            # Readable across a room: fixed large values, not auto-sized.
            assert panel["options"]["text"]["valueSize"] >= 48, panel["title"]
            assert panel["gridPos"]["h"] >= 5, panel["title"]


def test_wallboard_colours_service_level_against_target_with_alert_tiers() -> None:
    board = load(WALLBOARD)
    panel = next(p for p in all_panels(board) if p["title"] == "vs target")
    expr = panel["targets"][0]["expr"]
    assert "ccpulse_service_level_ratio" in expr and "ccpulse_service_level_target_ratio" in expr
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [
        (None, "red"),
        (-0.10, "orange"),
        (0, "green"),
    ]


def test_thresholds_ascend(board: dict[str, Any]) -> None:
    for panel in all_panels(board):
        thresholds = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds")
        if not thresholds:
            continue
        values = [s["value"] for s in thresholds["steps"]]
        assert values[0] is None, panel["title"]
        assert values[1:] == sorted(values[1:]), panel["title"]


def test_analyst_dashboard_covers_windows_and_trends() -> None:
    board = load(ANALYST)
    exprs = " ".join(t["expr"] for _, t in prometheus_targets(board))
    for metric in (
        "ccpulse_service_level_ratio",
        "ccpulse_window_calls_offered",
        "ccpulse_window_calls_answered",
        "ccpulse_window_calls_abandoned",
        "ccpulse_aht_seconds",
        "ccpulse_team_occupancy_ratio",
    ):
        assert metric + "{" in exprs, metric
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert {o["value"] for o in variables["window"]["options"]} == {
        "5m",
        "15m",
        "60m",
        "interval",
        "today",
    }
    redis_panels = [
        p for p in all_panels(board) if p.get("datasource", {}).get("type") == "redis-datasource"
    ]
    assert redis_panels, "the Redis datasource is provisioned; the analyst board uses it"
    assert redis_panels[0]["targets"][0]["keyName"] == "ccpulse:queue:$queue"


def test_wallboard_expressions_compute_the_right_values(promtool: str, tmp_path: Path) -> None:
    """Evaluate the wallboard's PromQL on two workers' series with promtool."""
    board = load(WALLBOARD)
    by_title = {panel["title"]: panel for panel in all_panels(board)}

    def expr(title: str, ref: str = "A") -> str:
        target = next(t for t in by_title[title]["targets"] if t["refId"] == ref)
        return substitute(target["expr"])

    worker = 'job="ccpulse-worker",instance="w{n}:6066"'
    series = [
        # vip exported by w1 and, during a hand-over, also by w2 with an older value.
        (f'ccpulse_service_level_ratio{{{worker.format(n=1)},queue="vip",window="15m"}}', "0.85"),
        (f'ccpulse_service_level_ratio{{{worker.format(n=2)},queue="vip",window="15m"}}', "0.88"),
        (f'ccpulse_service_level_ratio{{{worker.format(n=1)},queue="vip",window="5m"}}', "0.10"),
        (f'ccpulse_service_level_target_ratio{{{worker.format(n=1)},queue="vip"}}', "0.9"),
        (f'ccpulse_service_level_target_ratio{{{worker.format(n=2)},queue="vip"}}', "0.9"),
        (f'ccpulse_agents{{{worker.format(n=1)},queue="vip",state="on_call"}}', "4"),
        (f'ccpulse_agents{{{worker.format(n=1)},queue="vip",state="available"}}', "1"),
        (f'ccpulse_staffing_gap{{{worker.format(n=1)},queue="vip"}}', "-2"),
    ]
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": f"{v}x5"} for s, v in series],
                "promql_expr_test": [
                    {
                        "expr": expr("vs target"),
                        "eval_time": "2m",
                        "exp_samples": [{"labels": '{queue="vip"}', "value": 0.85 - 0.9}],
                    },
                    {
                        "expr": expr("Service level ($window)", "A"),
                        "eval_time": "2m",
                        "exp_samples": [{"labels": '{queue="vip"}', "value": 0.85}],
                    },
                    {
                        "expr": expr("Agents"),
                        "eval_time": "2m",
                        "exp_samples": [
                            {"labels": '{state="available"}', "value": 1},
                            {"labels": '{state="on_call"}', "value": 4},
                        ],
                    },
                    {
                        "expr": expr("Staffing gap", "A"),
                        "eval_time": "2m",
                        "exp_samples": [{"labels": '{queue="vip"}', "value": -2}],
                    },
                ],
            }
        ],
    }
    assert_ok(run_tool([promtool, "test", "rules", str(dump_yaml(test, tmp_path / "t.yml"))]))


def threshold_color(thresholds: dict[str, Any], value: float | None) -> str:
    """The colour Grafana gives a value: the last step at or below it. No value (None) gets
    the base step's colour (Grafana's display processor colours a missing value as -Infinity)."""
    steps = thresholds["steps"]
    color = steps[0]["color"]
    for step in steps[1:]:
        if value is not None and value >= step["value"]:
            color = step["color"]
    return color


def row_of(board: dict[str, Any], panel: dict[str, Any]) -> dict[str, Any]:
    """The row a panel sits in: the last row above it (Grafana's rule for uncollapsed rows)."""
    rows = [p for p in board["panels"] if p["type"] == "row"]
    above = [r for r in rows if r["gridPos"]["y"] < panel["gridPos"]["y"]]
    return max(above, key=lambda r: r["gridPos"]["y"])


def panel_titled(board: dict[str, Any], title: str) -> dict[str, Any]:
    matches = [p for p in all_panels(board) if p.get("title") == title]
    assert len(matches) == 1, f"{len(matches)} panels titled {title!r}"
    return matches[0]


def test_wallboard_shows_in_every_queue_row_whether_its_figures_are_live() -> None:
    board = load(WALLBOARD)
    age = panel_titled(board, "Data age")
    kafka = panel_titled(board, "Kafka")
    for panel in (age, kafka):
        assert panel["type"] == "stat"
        assert row_of(board, panel).get("repeat") == "queue", panel["title"]
        # Instant: a range query reduced to its last non-null point would keep showing the
        # last (fresh, green) value of a series that has gone.
        assert all(t["instant"] and not t["range"] for t in panel["targets"]), panel["title"]
        assert panel["fieldConfig"]["defaults"]["noValue"], panel["title"]
        assert panel["options"]["colorMode"] == "background", panel["title"]

    (target,) = age["targets"]
    assert metric_names(target["expr"]) == {
        "ccpulse_snapshot_as_of_seconds",
        "ccpulse_service_level_target_ratio",
    }
    assert 'queue=~"$queue"' in target["expr"], "the age of the row's own queue"
    thresholds = age["fieldConfig"]["defaults"]["thresholds"]
    assert threshold_color(thresholds, None) == "red", "no data must not look fresh"
    assert [threshold_color(thresholds, s) for s in (0, 4, 11, 14.9)] == ["green"] * 4
    assert [threshold_color(thresholds, s) for s in (15, 16, 3600)] == ["red"] * 3

    (target,) = kafka["targets"]
    assert metric_names(target["expr"]) == {"ccpulse_kafka_connected"}
    defaults = kafka["fieldConfig"]["defaults"]
    assert threshold_color(defaults["thresholds"], None) == "red", "no worker scraped: red"
    assert threshold_color(defaults["thresholds"], 0) == "red"
    assert threshold_color(defaults["thresholds"], 1) == "green"
    (mapping,) = defaults["mappings"]
    assert mapping["type"] == "value"
    assert {v: (m["text"], m["color"]) for v, m in mapping["options"].items()} == {
        "0": ("DOWN", "red"),
        "1": ("OK", "green"),
    }


def test_analyst_charts_figure_age_and_kafka_connection_over_time() -> None:
    analyst = load(ANALYST)
    panel = panel_titled(analyst, "Figure age and Kafka connection")
    assert panel["type"] == "timeseries"
    targets = {t["refId"]: t for t in panel["targets"]}
    assert not any(t["instant"] for t in targets.values()), "a chart needs range queries"
    wallboard_age = panel_titled(load(WALLBOARD), "Data age")["targets"][0]["expr"]
    assert targets["A"]["expr"] == wallboard_age, "the same age as the wallboard shows"
    assert metric_names(targets["B"]["expr"]) == {"ccpulse_kafka_connected"}
    assert "by (instance)" in targets["B"]["expr"], "one line per worker"
    (override,) = panel["fieldConfig"]["overrides"]
    assert override["matcher"] == {"id": "byFrameRefID", "options": "B"}
    properties = {p["id"]: p["value"] for p in override["properties"]}
    assert properties["custom.axisPlacement"] == "right", "0/1 beside an age in seconds"
    assert (properties["min"], properties["max"]) == (0, 1)


def test_freshness_expressions_compute_the_right_values(promtool: str, tmp_path: Path) -> None:
    """Evaluate the data-age and Kafka expressions with promtool on three workers' series.

    5 s scrapes, as_of = scrape time. w1 is healthy and exports `sales`, and `vip` until it
    hands `vip` over to w2 at 300 s. w2 exports `support` and then `vip`, and loses Kafka
    at 400 s: from then on it exports no queue series and no as_of, only Kafka 0. w3's clock
    is 30 s ahead of Prometheus's."""
    wallboard = load(WALLBOARD)
    analyst = load(ANALYST)

    def expr(board: dict[str, Any], title: str, ref: str = "A", queue: str = ".*") -> str:
        target = next(t for t in panel_titled(board, title)["targets"] if t["refId"] == ref)
        return substitute(target["expr"].replace("$queue", queue))

    age = expr(wallboard, "Data age")
    analyst_age = expr(analyst, "Figure age and Kafka connection", "A")
    kafka = expr(wallboard, "Kafka")
    kafka_by_worker = expr(analyst, "Figure age and Kafka connection", "B")

    def worker(n: int, metric: str, queue: str | None = None) -> str:
        labels = f'job="ccpulse-worker",instance="w{n}:6066"'
        if queue:
            labels += f',queue="{queue}"'
        return f"{metric}{{{labels}}}"

    target = "ccpulse_service_level_target_ratio"
    as_of = "ccpulse_snapshot_as_of_seconds"
    connected = "ccpulse_kafka_connected"
    series = [
        (worker(1, as_of), "0+5x120"),
        (worker(1, connected), "1x120"),
        (worker(1, target, "sales"), "0.8x120"),
        (worker(1, target, "vip"), "0.9x59 stale"),
        (worker(2, as_of), "0+5x80 stale"),
        (worker(2, connected), "1x80 0x39"),
        (worker(2, target, "support"), "0.8x80 stale"),
        (worker(2, target, "vip"), "_x60 0.9x20 stale"),
        (worker(3, as_of), "30+5x120"),
        (worker(3, connected), "1x120"),
        (worker(3, target, "ahead"), "0.8x120"),
    ]

    def ages(**by_queue: float) -> list[dict[str, Any]]:
        return [{"labels": f'{{queue="{q}"}}', "value": v} for q, v in by_queue.items()]

    checks = []
    for age_expr in (age, analyst_age):
        checks += [
            # Before the hand-over and the outage everything is current; a clock ahead is 0 s.
            {
                "expr": age_expr,
                "eval_time": "250s",
                "exp_samples": ages(sales=0, vip=0, support=0, ahead=0),
            },
            # After the hand-over w1's last `vip` as_of is history: w2's current one counts.
            {
                "expr": age_expr,
                "eval_time": "350s",
                "exp_samples": ages(sales=0, vip=0, support=0, ahead=0),
            },
            # w2 cut off since 400 s: its queues' figures are 200 s old and keep ageing.
            {
                "expr": age_expr,
                "eval_time": "600s",
                "exp_samples": ages(sales=0, vip=200, support=200, ahead=0),
            },
            # A queue no worker exports: no sample, which the panel shows as red "no data".
            {"expr": age_expr.replace(".*", "nosuch"), "eval_time": "600s", "exp_samples": []},
        ]
    checks += [
        {"expr": kafka, "eval_time": "350s", "exp_samples": [{"labels": "{}", "value": 1}]},
        {"expr": kafka, "eval_time": "600s", "exp_samples": [{"labels": "{}", "value": 0}]},
        {
            "expr": kafka_by_worker,
            "eval_time": "600s",
            "exp_samples": [
                {"labels": '{instance="w1:6066"}', "value": 1},
                {"labels": '{instance="w2:6066"}', "value": 0},
                {"labels": '{instance="w3:6066"}', "value": 1},
            ],
        },
    ]
    # A worker (without the Kafka gauge) that stopped at 60 s: its queue ages for an hour,
    # then has no sample at all; no Kafka series at all is no sample either (red "no data").
    gone = [(worker(1, as_of), "0+5x12 stale"), (worker(1, target, "sales"), "0.8x12 stale")]
    gone_checks = [
        {"expr": age, "eval_time": "30m", "exp_samples": ages(sales=1740)},
        {"expr": age, "eval_time": "62m", "exp_samples": []},
        {"expr": kafka, "eval_time": "30m", "exp_samples": []},
    ]
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "5s",
                "input_series": [{"series": s, "values": v} for s, v in inputs],
                "promql_expr_test": exprs,
            }
            for inputs, exprs in ((series, checks), (gone, gone_checks))
        ],
    }
    assert_ok(run_tool([promtool, "test", "rules", str(dump_yaml(test, tmp_path / "f.yml"))]))


def test_datasources_provisioning() -> None:
    provisioned = provisioned_datasources()
    assert provisioned["ccpulse-prometheus"]["type"] == "prometheus"
    assert provisioned["ccpulse-redis"]["type"] == "redis-datasource"
    text = (GRAFANA / "provisioning" / "datasources" / "ccpulse.yml").read_text(encoding="utf-8")
    # A password may only come from the environment.
    for source in provisioned.values():
        for value in source.get("secureJsonData", {}).values():
            assert str(value).startswith("$"), "secrets in provisioning must be $ENV references"
    assert "password: $" in text


def test_dashboard_provider_points_at_the_mounted_dashboards() -> None:
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "ccpulse.yml")["providers"][0]
    assert provider["type"] == "file"
    compose = load_yaml(DEPLOY.parent / "docker-compose.yml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts
