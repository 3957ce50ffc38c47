"""End to end: the peak scenario drives the service-level alert through a real Prometheus.

Real Kafka and Redis (session fixtures), a real `ccpulse worker`, the simulator's peak scenario
sent to Kafka at 120x, and Prometheus (Debian's binary) scraping the worker every second and
evaluating the PRODUCTION alert rules (deploy/prometheus/rules/ccpulse.rules.yml) with two
test-only changes: `for:` durations of 5 s, and the 15-minute window replaced by a 30 s window.

Why the window changes: at --speed 120 event times are compressed onto the wall clock
(simulated minute -> half a wall second), so a 30 s window holds one simulated hour, which is
what the 15-minute window would show of a real peak in proportion; a 15-minute window would
hold the whole simulated day and average the peak away.

Timeline of peak.toml at 120x (simulated 08:00 = simulator start): sales surges 10:30-12:00
(wall 75-120 s), its service level falls well under 80 % and recovers in the early afternoon
(about 12:45, wall 160 s). The test asserts the alert is quiet before the surge, fires for
sales, and resolves after the peak, all read from Prometheus's /api/v1/alerts.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import wait_until
from live_support import WorkerProcess

from streams.services import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "ccpulse.rules.yml"
CCPULSE = str(Path(sys.executable).with_name("ccpulse"))
SPEED = 120
TEST_WINDOW = "30s"
ALERT = "CcpulseServiceLevelBelowTarget"
# Simulated 10:30 (surge start) in wall seconds after the simulator starts.
SURGE_STARTS_AFTER = (10.5 - 8.0) * 3600 / SPEED


def fast_rules(source: Path, target: Path) -> Path:
    """The production rules with short `for:` and the test window (see module docstring)."""
    doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule["expr"] = rule["expr"].replace('window="15m"', f'window="{TEST_WINDOW}"')
            if "for" in rule:
                rule["for"] = "5s"
            if rule.get("labels", {}).get("window") == "15m":
                rule["labels"]["window"] = TEST_WINDOW
    exprs = [rule["expr"] for group in doc["groups"] for rule in group["rules"]]
    assert not any('window="15m"' in expr for expr in exprs)
    assert any(f'window="{TEST_WINDOW}"' in expr for expr in exprs)
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def write_config(path: Path, prefix: str) -> Path:
    """The default configuration with the test window added and topics unique to this test."""
    text = (ROOT / "config" / "ccpulse.toml").read_text(encoding="utf-8")
    text, count = re.subn(
        r"^windows = .*$", f'windows = ["{TEST_WINDOW}", "5m", "15m"]', text, flags=re.M
    )
    assert count == 1
    text += "\n[topics]\n"
    for name in ("offered", "answered", "abandoned", "wrapup"):
        text += f'{name} = "{prefix}.call.{name}"\n'
    text += f'agent_state = "{prefix}.agent.state"\ndead_letter = "{prefix}.dead-letter"\n'
    path.write_text(text, encoding="utf-8")
    return path


def start_peak_simulator(
    config: Path, env: dict[str, str], output: Any, *extra: str
) -> subprocess.Popen[bytes]:
    """The peak scenario at SPEED into the worker's Kafka, as a real `ccpulse simulate`."""
    scenario = str(ROOT / "config" / "scenarios" / "peak.toml")
    return subprocess.Popen(
        [
            CCPULSE,
            "simulate",
            "--scenario",
            scenario,
            "--speed",
            str(SPEED),
            "--to",
            "kafka",
            *extra,
            "--config",
            str(config),
        ],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if output is not subprocess.DEVNULL else subprocess.DEVNULL,
    )


def sl_alerts(prometheus: Any, state: str) -> list[dict[str, Any]]:
    return [
        alert
        for alert in prometheus.alerts()
        if alert["labels"]["alertname"] == ALERT and alert["state"] == state
    ]


@pytest.fixture
def prometheus_binary() -> None:
    if not shutil.which("prometheus"):
        reason = "prometheus binary not found (Debian package `prometheus`)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so this is a failure")
        pytest.skip(reason)


def test_service_level_alert_fires_in_the_peak_and_resolves_after(
    prometheus_binary: None,
    kafka_bootstrap: str,
    redis_url: str,
    start_prometheus: Any,
    tmp_path: Path,
) -> None:
    prefix = f"e2e-alerts-{int(time.time())}"
    config = write_config(tmp_path / "ccpulse.toml", prefix)
    (web_port,) = free_ports(1)
    worker = WorkerProcess(
        tmp_path / "worker", config, kafka_bootstrap, redis_url, prefix, web_port
    ).start()
    simulator: subprocess.Popen[bytes] | None = None
    try:
        wait_until(worker.ready, timeout=120, interval=0.5, message="worker /healthz ready")

        rules = fast_rules(RULES, tmp_path / "ccpulse.rules.yml")
        prometheus_config = tmp_path / "prometheus.yml"
        prometheus_config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(rules)],
                    "scrape_configs": [
                        {
                            # The job name the production rules expect.
                            "job_name": "ccpulse-worker",
                            "static_configs": [{"targets": [f"127.0.0.1:{web_port}"]}],
                        }
                    ],
                }
            ),
            encoding="utf-8",
        )
        prometheus = start_prometheus(prometheus_config)
        wait_until(
            lambda: prometheus.query('up{job="ccpulse-worker"} == 1'),
            timeout=30,
            message="prometheus scraping the worker",
        )

        simulator_log = (tmp_path / "simulator.log").open("wb")
        simulator = start_peak_simulator(config, worker.env, simulator_log)
        simulator_log.close()
        started = time.monotonic()

        def simulator_running() -> None:
            code = simulator.poll()
            assert code is None, (
                f"simulator exited with {code}:\n"
                + (tmp_path / "simulator.log").read_text(errors="replace")[-3000:]
            )

        # Events flow and the queue KPIs reach Prometheus.
        wait_until(
            lambda: prometheus.query(
                f'ccpulse_service_level_ratio{{queue="sales",window="{TEST_WINDOW}"}}'
            ),
            timeout=60,
            interval=0.5,
            message="sales service level in Prometheus",
        )

        def firing_for_sales() -> list[dict[str, Any]]:
            simulator_running()
            worker.assert_running()
            firing = [a for a in sl_alerts(prometheus, "firing") if a["labels"]["queue"] == "sales"]
            if time.monotonic() - started < SURGE_STARTS_AFTER:
                # Healthy before the surge: sales may not even be pending that early.
                early = sl_alerts(prometheus, "pending") + sl_alerts(prometheus, "firing")
                assert not [a for a in early if a["labels"]["queue"] == "sales"], early
            return firing

        firing = wait_until(
            firing_for_sales, timeout=240, interval=1.0, message=f"{ALERT} firing for sales"
        )
        fired_after = time.monotonic() - started
        assert fired_after >= SURGE_STARTS_AFTER, (
            f"fired {fired_after:.0f}s after start, before the surge ({SURGE_STARTS_AFTER:.0f}s)"
        )
        alert = firing[0]
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["labels"]["window"] == TEST_WINDOW
        assert "sales" in alert["annotations"]["summary"]
        # The shortfall is measured against the queue's own target (0.80 for sales).
        sales_sl = prometheus.query(
            f'queue_window:ccpulse_service_level_ratio:min{{queue="sales",window="{TEST_WINDOW}"}}'
        )
        assert sales_sl and float(sales_sl[0]["value"][1]) < 0.80

        def resolved_for_sales() -> bool:
            simulator_running()
            worker.assert_running()
            active = [
                a
                for a in sl_alerts(prometheus, "firing") + sl_alerts(prometheus, "pending")
                if a["labels"]["queue"] == "sales"
            ]
            return not active

        wait_until(
            resolved_for_sales, timeout=300, interval=1.0, message=f"{ALERT} resolved for sales"
        )
        resolved_after = time.monotonic() - started
        recovered = prometheus.query(
            f'queue_window:ccpulse_service_level_ratio:min{{queue="sales",window="{TEST_WINDOW}"}}'
        )
        assert recovered and float(recovered[0]["value"][1]) >= 0.80
        print(
            f"\n{ALERT} for sales fired {fired_after:.0f}s and resolved {resolved_after:.0f}s "
            f"after the simulator started (speed {SPEED}x)"
        )
    finally:
        if simulator is not None and simulator.poll() is None:
            simulator.terminate()
            try:
                simulator.wait(20)
            except subprocess.TimeoutExpired:
                simulator.kill()
        worker.stop()


def load_worker_metrics() -> dict[str, set[str]]:
    """The metric contract the rules and dashboards are checked against (tests/deploy)."""
    path = ROOT / "tests" / "deploy" / "deploy_helpers.py"
    spec = importlib.util.spec_from_file_location("deploy_helpers_for_e2e", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WORKER_METRICS


def exported_series(metrics_text: str) -> dict[str, set[frozenset[str]]]:
    """Metric name -> the label-name sets of its samples in a /metrics page."""
    found: dict[str, set[frozenset[str]]] = {}
    for match in re.finditer(r"^([a-z_:][a-z0-9_:]*)(?:\{([^}]*)\})? \S+", metrics_text, re.M):
        labels = frozenset(re.findall(r'(\w+)="', match.group(2) or ""))
        found.setdefault(match.group(1), set()).add(labels)
    return found


def test_worker_exports_every_metric_the_rules_and_dashboards_use(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    """Rules and dashboards are validated against a list of metric names and labels; this
    checks that list against what a real worker serves during the peak scenario (with a few
    malformed lines, so the rejected-events counter exists)."""
    contract = load_worker_metrics()
    prefix = f"e2e-metrics-{int(time.time())}"
    config = write_config(tmp_path / "ccpulse.toml", prefix)
    (web_port,) = free_ports(1)
    worker = WorkerProcess(
        tmp_path / "worker", config, kafka_bootstrap, redis_url, prefix, web_port
    ).start()
    simulator: subprocess.Popen[bytes] | None = None
    try:
        wait_until(worker.ready, timeout=120, interval=0.5, message="worker /healthz ready")
        simulator = start_peak_simulator(
            config, worker.env, subprocess.DEVNULL, "--bad-lines", "0.01"
        )

        # Some series exist only at times (oldest waiting only while a call waits), so the
        # names and label sets seen over the scrapes are collected.
        seen: dict[str, set[frozenset[str]]] = {}

        def all_exported() -> bool:
            worker.assert_running()
            for name, label_sets in exported_series(worker.metrics_text()).items():
                seen.setdefault(name, set()).update(label_sets)
            return contract.keys() <= seen.keys()

        try:
            wait_until(all_exported, timeout=90, interval=1.0, message="every contract metric")
        except AssertionError:
            raise AssertionError(
                f"the worker never exported {sorted(contract.keys() - seen.keys())}; "
                "the alert rules and dashboards use them"
            ) from None
        for name, labels in contract.items():
            assert seen[name] == {frozenset(labels)}, (name, seen[name])
    finally:
        if simulator is not None and simulator.poll() is None:
            simulator.terminate()
            try:
                simulator.wait(20)
            except subprocess.TimeoutExpired:
                simulator.kill()
        worker.stop()
