"""Prometheus rules and configuration: promtool checks, promtool unit tests, structure."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import (
    DEPLOY,
    RULE_TESTS_DIR,
    RULES_FILE,
    RUNBOOK,
    WORKER_METRICS,
    assert_ok,
    dump_yaml,
    iter_rules,
    load_yaml,
    metric_names,
    run_tool,
)

RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.test.yml"))


def alerting_rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for rule in iter_rules(doc) if "alert" in rule]


def test_rules_pass_promtool_check(promtool: str) -> None:
    result = run_tool([promtool, "check", "rules", str(RULES_FILE)])
    assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_prometheus_config_passes_promtool_check(promtool: str) -> None:
    # Also resolves rule_files relative to the config, so the glob must find the rules.
    result = run_tool([promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")])
    assert_ok(result)
    assert "1 rule files found" in result.stdout


@pytest.mark.parametrize("test_file", RULE_TEST_FILES, ids=lambda p: p.name)
def test_promtool_rule_unit_tests_pass(promtool: str, test_file: Path) -> None:
    assert_ok(run_tool([promtool, "test", "rules", str(test_file)]))


def test_rule_unit_tests_exist() -> None:
    names = {p.name for p in RULE_TEST_FILES}
    assert {"healthy.test.yml", "service_level.test.yml"} <= names


def test_promtool_rule_tests_fail_when_the_volume_guard_is_removed(
    promtool: str, tmp_path: Path
) -> None:
    """The unit tests can fail: without the minimum-volume guard a quiet queue pages."""
    rules = RULES_FILE.read_text(encoding="utf-8")
    weakened = rules.replace('{window="15m"}) >= 20', '{window="15m"}) >= 0')
    assert weakened != rules, "volume guard expression not found in the rules file"
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / RULES_FILE.name).write_text(weakened, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    shutil.copy(RULE_TESTS_DIR / "service_level.test.yml", tmp_path / "tests")
    result = run_tool(
        [promtool, "test", "rules", str(tmp_path / "tests" / "service_level.test.yml")]
    )
    assert result.returncode != 0
    assert "a quiet queue does not page" in result.stdout + result.stderr


def test_every_alert_has_severity_and_annotations(rules_doc: dict[str, Any]) -> None:
    alerts = alerting_rules(rules_doc)
    assert alerts
    for rule in alerts:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        annotations = rule["annotations"]
        for key in ("summary", "description", "runbook", "runbook_url"):
            assert annotations.get(key, "").strip(), f"{rule['alert']}: missing {key}"
        assert len(annotations["runbook"]) <= 100, f"{rule['alert']}: runbook should be short"
        assert "for" in rule, f"{rule['alert']}: alerts need a `for:` duration"


def test_runbook_urls_point_at_existing_runbook_sections(rules_doc: dict[str, Any]) -> None:
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(encoding="utf-8"), flags=re.M)
    # GitHub-style anchors: lower case, spaces to dashes, punctuation dropped.
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
    for rule in alerting_rules(rules_doc):
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "deploy/prometheus/RUNBOOK.md", url
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in RUNBOOK.md"


def test_required_alerts_exist_with_warning_and_critical_tiers(rules_doc: dict[str, Any]) -> None:
    tiers: dict[str, set[str]] = {}
    for rule in alerting_rules(rules_doc):
        tiers.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert tiers["CcpulseServiceLevelBelowTarget"] == {"warning", "critical"}
    for name in (
        "CcpulseAbandonRateHigh",
        "CcpulseAsaAboveThreshold",
        "CcpulseOldestCallWaitingTooLong",
        "CcpulseStaffingShort",
        "CcpulseEventsStopped",
        "CcpulseLastEventTooOld",
        "CcpulseWorkerDown",
        "CcpulseKafkaUnreachable",
        "CcpulseRejectedEventsRising",
    ):
        assert name in tiers, name


def test_service_level_alert_uses_each_queues_target_and_a_volume_guard(
    rules_doc: dict[str, Any],
) -> None:
    recorded = {rule["record"]: rule["expr"] for rule in iter_rules(rules_doc) if "record" in rule}
    for rule in alerting_rules(rules_doc):
        if rule["alert"] != "CcpulseServiceLevelBelowTarget":
            continue
        assert "queue:ccpulse_service_level_target_ratio:max" in rule["expr"]
        assert "queue:ccpulse_window_calls_offered_15m:min_volume" in rule["expr"]
    assert (
        "ccpulse_service_level_target_ratio"
        in recorded["queue:ccpulse_service_level_target_ratio:max"]
    )
    assert (
        'ccpulse_window_calls_offered{window="15m"}'
        in recorded["queue:ccpulse_window_calls_offered_15m:min_volume"]
    )


def test_rules_use_only_metrics_the_worker_exports(rules_doc: dict[str, Any]) -> None:
    for rule in iter_rules(rules_doc):
        unknown = metric_names(rule["expr"]) - WORKER_METRICS.keys()
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown {unknown}"


def _alert_test_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in RULE_TEST_FILES:
        for test in load_yaml(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.append((path.name, case))
    return cases


def test_every_alert_is_unit_tested_firing_and_quiet(rules_doc: dict[str, Any]) -> None:
    """Each alert has a promtool case where it fires and one in the healthy centre where not."""
    cases = _alert_test_cases()
    fired = {case["alertname"] for _, case in cases if case.get("exp_alerts")}
    quiet_when_healthy = {
        case["alertname"]
        for file, case in cases
        if file == "healthy.test.yml" and not case.get("exp_alerts")
    }
    names = {rule["alert"] for rule in alerting_rules(rules_doc)}
    assert names - fired == set(), "alerts never shown firing in a unit test"
    assert names - quiet_when_healthy == set(), "alerts not checked quiet in the healthy test"
    severities_fired = {
        (case["alertname"], alert["exp_labels"]["severity"])
        for _, case in cases
        for alert in case.get("exp_alerts") or []
    }
    declared = {(rule["alert"], rule["labels"]["severity"]) for rule in alerting_rules(rules_doc)}
    assert declared - severities_fired == set(), "severity tiers never shown firing"


def test_healthy_test_feeds_every_worker_metric() -> None:
    series = {
        entry["series"].split("{", 1)[0]
        for test in load_yaml(RULE_TESTS_DIR / "healthy.test.yml")["tests"]
        for entry in test["input_series"]
    }
    # The healthy centre must contain what the alerts read, or "quiet" proves nothing.
    watched = {
        "ccpulse_service_level_ratio",
        "ccpulse_service_level_target_ratio",
        "ccpulse_window_calls_offered",
        "ccpulse_abandon_ratio",
        "ccpulse_asa_seconds",
        "ccpulse_oldest_call_waiting_seconds",
        "ccpulse_staffing_gap",
        "ccpulse_agents_required",
        "ccpulse_events_total",
        "ccpulse_events_rejected_total",
        "ccpulse_last_event_timestamp_seconds",
        "ccpulse_kafka_connected",
        "up",
    }
    assert watched - series == set()


def test_scrape_config_has_the_worker_job_the_alerts_expect() -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker = jobs["ccpulse-worker"]
    assert worker.get("metrics_path", "/metrics") == "/metrics"
    assert worker["scrape_interval"] == "5s"
    assert config["global"]["evaluation_interval"]
    assert config["rule_files"] == ["rules/*.rules.yml"]


def test_rules_file_can_be_copied_alone(promtool: str, tmp_path: Path) -> None:
    """Operators copy only the rules file into their Prometheus: it must not depend on others."""
    doc = load_yaml(RULES_FILE)
    copied = dump_yaml(doc, tmp_path / "ccpulse.rules.yml")
    assert_ok(run_tool([promtool, "check", "rules", str(copied)]))


def test_every_recorded_series_an_expression_reads_is_recorded(rules_doc: dict[str, Any]) -> None:
    """promtool cannot know that `queue:...` names come from our own recording rules; a typo
    there would make an alert silently never fire."""
    recorded = {rule["record"] for rule in iter_rules(rules_doc) if "record" in rule}
    for rule in iter_rules(rules_doc):
        used = set(re.findall(r"\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b", rule["expr"]))
        assert used <= recorded, f"{rule.get('alert') or rule.get('record')}: {used - recorded}"
