"""Kubernetes manifests in deploy/k8s: parsed and checked; kustomize build when kubectl exists."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import (
    DEPLOY,
    RULES_FILE,
    assert_ok,
    dump_yaml,
    load_yaml,
    load_yaml_documents,
    run_tool,
)

K8S = DEPLOY / "k8s"
# Environment variables that are settings, not connections or credentials.
PLAIN_SETTINGS = {
    "CCPULSE_WEB_PORT",
    "CCPULSE_WEB_HOST",
    "CCPULSE_STATE_DIR",
    "CCPULSE_KAFKA_REPLICATION",
}


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    """kind -> object, from the files the kustomization lists (one object of each kind)."""
    kustomization = load_yaml(K8S / "kustomization.yaml")
    found: dict[str, dict[str, Any]] = {}
    for resource in kustomization["resources"]:
        for doc in load_yaml_documents(K8S / resource):
            assert doc["kind"] not in found, f"two {doc['kind']} objects"
            found[doc["kind"]] = doc
    return found


def worker_container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = objects["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    return container


def test_all_manifest_files_are_in_the_kustomization() -> None:
    listed = set(load_yaml(K8S / "kustomization.yaml")["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_no_secret_objects_or_values_are_committed(objects: dict[str, dict[str, Any]]) -> None:
    assert "Secret" not in objects
    env = worker_container(objects)["env"]
    for variable in env:
        if variable["name"] in PLAIN_SETTINGS:
            assert "value" in variable
            continue
        assert "value" not in variable, f"{variable['name']} must come from a Secret"
        assert "secretKeyRef" in variable["valueFrom"]
    names = {v["name"] for v in env}
    assert {"CCPULSE_KAFKA_BOOTSTRAP", "CCPULSE_REDIS_URL"} <= names
    values = {v["name"]: v.get("value") for v in env}
    assert values["CCPULSE_WEB_HOST"] == "0.0.0.0", "Prometheus scrapes the pod IP"
    mounts = {m["name"]: m["mountPath"] for m in worker_container(objects)["volumeMounts"]}
    assert values["CCPULSE_STATE_DIR"] == mounts["state"]


def test_workers_are_a_statefulset_with_a_state_volume_per_pod(
    objects: dict[str, dict[str, Any]],
) -> None:
    statefulset = objects["StatefulSet"]
    spec = statefulset["spec"]
    assert spec["serviceName"] == objects["Service"]["metadata"]["name"]
    assert spec["replicas"] >= 2
    (claim,) = spec["volumeClaimTemplates"]
    mounts = {m["name"]: m for m in worker_container(objects)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]]["mountPath"] == "/var/lib/ccpulse"
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()


def test_more_partitions_than_workers(objects: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from streams.config import load_settings

    path = tmp_path / "ccpulse.toml"
    path.write_text(objects["ConfigMap"]["data"]["ccpulse.toml"], encoding="utf-8")
    # The worker creates its topics with `partitions` and refuses other counts.
    assert load_settings(path).partitions > objects["StatefulSet"]["spec"]["replicas"]


def test_probes_resources_and_config(objects: dict[str, dict[str, Any]]) -> None:
    container = worker_container(objects)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"web": 6066}
    readiness = container["readinessProbe"]["httpGet"]
    assert readiness == {"path": "/healthz", "port": "web"}
    assert "livenessProbe" in container and "startupProbe" in container
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    config_mount = mounts["/app/config/ccpulse.toml"]
    volumes = {v["name"]: v for v in objects["StatefulSet"]["spec"]["template"]["spec"]["volumes"]}
    config_map = volumes[config_mount["name"]]["configMap"]["name"]
    assert config_map == objects["ConfigMap"]["metadata"]["name"]
    assert config_mount["subPath"] in objects["ConfigMap"]["data"]


def test_configmap_holds_a_valid_ccpulse_config(
    objects: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    from streams.config import load_settings

    path = tmp_path / "ccpulse.toml"
    path.write_text(objects["ConfigMap"]["data"]["ccpulse.toml"], encoding="utf-8")
    settings = load_settings(path)
    assert settings.windows


def test_service_and_servicemonitor_select_the_workers(
    objects: dict[str, dict[str, Any]],
) -> None:
    service, monitor = objects["Service"], objects["ServiceMonitor"]
    pod_labels = objects["StatefulSet"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # Prometheus Operator sets job=<service name>; the alert rules expect this job.
    assert service["metadata"]["name"] == "ccpulse-worker"


def test_prometheusrule_embeds_exactly_the_prometheus_rules(
    objects: dict[str, dict[str, Any]],
) -> None:
    rule = objects["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == load_yaml(RULES_FILE)["groups"], (
        "run python deploy/k8s/build_prometheusrule.py"
    )


def test_prometheusrule_file_is_what_the_builder_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "build_prometheusrule", K8S / "build_prometheusrule.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (K8S / "prometheusrule.yaml").read_text(encoding="utf-8") == module.render()


def test_prometheusrule_groups_pass_promtool(
    objects: dict[str, dict[str, Any]], promtool: str, tmp_path: Path
) -> None:
    path = dump_yaml({"groups": objects["PrometheusRule"]["spec"]["groups"]}, tmp_path / "r.yml")
    assert_ok(run_tool([promtool, "check", "rules", str(path)]))


def test_kustomize_builds() -> None:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not installed")
    result = run_tool([kubectl, "kustomize", str(K8S)])
    assert_ok(result)
    import yaml

    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    kinds = sorted(doc["kind"] for doc in built)
    assert kinds == sorted(
        [
            "ConfigMap",
            "PodDisruptionBudget",
            "PrometheusRule",
            "Service",
            "ServiceMonitor",
            "StatefulSet",
        ]
    )
    statefulset = next(doc for doc in built if doc["kind"] == "StatefulSet")
    image = statefulset["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith("/ccpulse:0.1.0")
