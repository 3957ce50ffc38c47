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
