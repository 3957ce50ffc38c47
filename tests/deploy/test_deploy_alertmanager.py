"""Alertmanager: severity routing, inhibition, and no secrets in the committed file."""

from __future__ import annotations

from typing import Any

import pytest
from deploy_helpers import DEPLOY, assert_ok, load_yaml, run_tool

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"

# Receiver settings that would hold a secret if given inline; only their *_file forms may appear.
INLINE_SECRET_KEYS = {
    "url",
    "api_url",
    "routing_key",
    "service_key",
    "api_key",
    "token",
    "bot_token",
    "password",
    "auth_password",
}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_yaml(CONFIG)


def route_for(config: dict[str, Any], labels: dict[str, str]) -> str:
    """First matching child route's receiver (the configuration uses only `a="b"` matchers)."""
    for route in config["route"].get("routes", []):
        wanted = dict(m.replace('"', "").split("=", 1) for m in route["matchers"])
        if all(labels.get(k) == v for k, v in wanted.items()):
            return route["receiver"]
    return config["route"]["receiver"]


def test_critical_pages_and_warning_goes_to_chat(config: dict[str, Any]) -> None:
    assert route_for(config, {"severity": "critical", "queue": "sales"}) == "pager"
    assert route_for(config, {"severity": "warning", "queue": "sales"}) == "chat"
    assert route_for(config, {"alertname": "Other"}) == "chat"


def test_receivers_read_secrets_from_mounted_files(config: dict[str, Any]) -> None:
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers) == {"pager", "chat"}

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                assert key not in INLINE_SECRET_KEYS, f"{where}.{key} must be a *_file setting"
                if key.endswith("_file"):
                    assert str(item).startswith("/run/secrets/"), f"{where}.{key}"
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for item in value:
                walk(item, where)

    walk(config["receivers"], "receivers")
    walk(config.get("global", {}), "global")
    assert receivers["pager"]["pagerduty_configs"][0]["routing_key_file"]
    assert receivers["chat"]["slack_configs"][0]["api_url_file"]


def test_critical_inhibits_warning_of_the_same_alert_and_queue(config: dict[str, Any]) -> None:
    (rule,) = config["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="critical"']
    assert rule["target_matchers"] == ['severity="warning"']
    assert {"alertname", "queue"} <= set(rule["equal"])


def test_amtool_accepts_the_config(amtool: str) -> None:
    assert_ok(run_tool([amtool, "check-config", str(CONFIG)]))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=CcpulseServiceLevelBelowTarget", "queue=vip"], "pager"),
        (["severity=warning", "alertname=CcpulseServiceLevelBelowTarget", "queue=vip"], "chat"),
        (["alertname=Unlabelled"], "chat"),
    ],
)
def test_amtool_routes(amtool: str, labels: list[str], receiver: str) -> None:
    result = run_tool([amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels])
    assert_ok(result)
    assert result.stdout.strip() == receiver
