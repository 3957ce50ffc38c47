"""Helpers for the deployment tests (Prometheus, Alertmanager, Grafana, compose, k8s).

The real tools (promtool, amtool, kubectl, docker compose) do the checking wherever they are
installed. promtool is required: without it these tests skip with the reason, except under CI
(env CI set), where a missing promtool is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is in the dev extra: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES_FILE = DEPLOY / "prometheus" / "rules" / "ccpulse.rules.yml"
RULE_TESTS_DIR = DEPLOY / "prometheus" / "tests"
RUNBOOK = DEPLOY / "prometheus" / "RUNBOOK.md"

# Every series the worker exports (shared/DESIGN.md, "Outputs" -> Prometheus) with its labels,
# plus the staffing gauges and docs/contract-notes.md's additions (snapshot as_of, Kafka
# contact). Rules and dashboards may only use these (and Prometheus's `up`).
WORKER_METRICS: dict[str, set[str]] = {
    "ccpulse_service_level_ratio": {"queue", "window"},
    "ccpulse_asa_seconds": {"queue", "window"},
    "ccpulse_abandon_ratio": {"queue", "window"},
    "ccpulse_aht_seconds": {"queue", "window"},
    "ccpulse_occupancy_ratio": {"queue", "window"},
    "ccpulse_window_calls_offered": {"queue", "window"},
    "ccpulse_window_calls_answered": {"queue", "window"},
    "ccpulse_window_calls_abandoned": {"queue", "window"},
    "ccpulse_team_occupancy_ratio": {"team", "window"},
    "ccpulse_calls_waiting": {"queue"},
    "ccpulse_oldest_call_waiting_seconds": {"queue"},
    "ccpulse_agents": {"queue", "state"},
    "ccpulse_service_level_target_ratio": {"queue"},
    "ccpulse_calls_offered_total": {"queue"},
    "ccpulse_calls_answered_total": {"queue"},
    "ccpulse_calls_answered_within_threshold_total": {"queue"},
    "ccpulse_calls_abandoned_total": {"queue"},
    "ccpulse_events_total": {"type"},
    "ccpulse_events_rejected_total": {"reason"},
    "ccpulse_last_event_timestamp_seconds": set(),
    "ccpulse_agents_required": {"queue"},
    "ccpulse_staffing_gap": {"queue"},
    "ccpulse_kafka_connected": set(),
    "ccpulse_snapshot_as_of_seconds": set(),
}

# Metric names in PromQL: identifiers starting with ccpulse_ that are not part of a recording
# rule name (those contain ':').
_METRIC_NAME = re.compile(r"(?<![\w:])(ccpulse_[a-z0-9_]+)(?![\w:])")


def metric_names(expr: str) -> set[str]:
    return set(_METRIC_NAME.findall(expr))


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def dump_yaml(data: Any, path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def require_tool(name: str, package: str) -> str:
    """Path of a command-line tool; skip (locally) or fail (under CI) when it is missing."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not found on PATH (Debian package `{package}`: apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so a missing {name} is a failure")
    pytest.skip(f"{message}; skipped because CI is not set")


def iter_rules(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for group in doc["groups"]:
        yield from group["rules"]


def run_tool(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(map(str, result.args))} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
