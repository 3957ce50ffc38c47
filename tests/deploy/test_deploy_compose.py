"""docker-compose.yml, deploy/Dockerfile and .dockerignore: parsed and checked.

There is no Docker engine here; `docker compose config` validates the file when the compose
plugin is installed (it needs no daemon), otherwise that one test skips with the reason.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import DEPLOY, ROOT, assert_ok, dump_yaml, load_yaml, run_tool

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def test_stack_has_every_service(services: dict[str, Any]) -> None:
    assert set(services) == {
        "kafka",
        "redis",
        "worker",
        "simulator",
        "prometheus",
        "alertmanager",
        "grafana",
    }


def test_kafka_is_the_official_image_in_kraft_mode(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name == "simulator":
            continue
        check = service.get("healthcheck")
        assert check and check["test"], f"{name} has no healthcheck"


def test_start_order_waits_for_healthy_dependencies(services: dict[str, Any]) -> None:
    expected = {
        "worker": {"kafka", "redis"},
        "simulator": {"kafka", "worker"},
        "prometheus": {"alertmanager", "worker"},
        "grafana": {"prometheus", "redis"},
    }
    for name, needs in expected.items():
        depends = services[name]["depends_on"]
        assert set(depends) == needs, name
        for dependency in needs:
            assert depends[dependency]["condition"] == "service_healthy", (name, dependency)
    # No cycles: a topological order exists.
    remaining = {n: set(s.get("depends_on", {})) for n, s in services.items()}
    while remaining:
        ready = [n for n, deps in remaining.items() if not deps]
        assert ready, f"dependency cycle among {sorted(remaining)}"
        for n in ready:
            del remaining[n]
        for deps in remaining.values():
            deps.difference_update(ready)


def test_worker_and_simulator_share_the_image_built_from_deploy_dockerfile(
    services: dict[str, Any],
) -> None:
    worker, simulator = services["worker"], services["simulator"]
    assert worker["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert simulator["image"] == worker["image"]
    assert worker["command"] == ["worker"]
    assert simulator["command"] == [
        "simulate",
        "--scenario",
        "config/scenarios/peak.toml",
        "--speed",
        "60",
        "--to",
        "kafka",
    ]
    assert simulator["working_dir"] == "/app"
    for service in (worker, simulator):
        env = service["environment"]
        assert env["CCPULSE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["CCPULSE_REDIS_URL"].startswith("redis://redis:6379")
    # The worker listens on loopback unless told otherwise; Prometheus is another container.
    assert worker["environment"]["CCPULSE_WEB_HOST"] == "0.0.0.0"
    assert "6066" in str(worker["healthcheck"]["test"]) and "/healthz" in str(
        worker["healthcheck"]["test"]
    )


def test_prometheus_alertmanager_grafana_get_the_repository_config(
    services: dict[str, Any],
) -> None:
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in services["alertmanager"]["volumes"]
    assert (
        "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"
        in services["grafana"]["volumes"]
    )
    assert "redis-datasource" in services["grafana"]["environment"]["GF_INSTALL_PLUGINS"]
    # Hostnames used by the configuration files resolve to these service names.
    prometheus_yml = (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    assert '"worker"' in prometheus_yml and "alertmanager:9093" in prometheus_yml
    datasources = (DEPLOY / "grafana" / "provisioning" / "datasources" / "ccpulse.yml").read_text(
        encoding="utf-8"
    )
    assert "http://prometheus:9090" in datasources and "redis://redis:6379" in datasources


def test_alertmanager_secrets_come_from_the_environment(compose: dict[str, Any]) -> None:
    secrets = compose["secrets"]
    assert set(secrets) == {"pager_routing_key", "chat_webhook_url"}
    for secret in secrets.values():
        assert set(secret) == {"environment"}
    assert set(compose["services"]["alertmanager"]["secrets"]) == set(secrets)
    alertmanager_yml = (DEPLOY / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    for name in secrets:
        assert f"/run/secrets/{name}" in alertmanager_yml


def test_published_ports_are_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all addresses"


def test_no_secret_values_in_compose() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.search(r"(PASSWORD|SECRET|TOKEN|KEY)\w*:\s*\S", line) and "${" not in line:
            # Only names of variables/secrets, never a literal value.
            assert re.search(r":\s*[A-Z_]+\s*$", line), f"literal secret? {line.strip()}"


def test_dockerfile_builds_python311_slim_from_the_lock() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, flags=re.M)
    # The compiled engine comes from a build stage and must be built from the copied sources.
    assert "RUN python tools/compile_engine.py" in text
    assert "COPY --from=engine /src/streams/kpi/_compiled ./streams/kpi/_compiled" in text
    assert "-c requirements.lock" in text, "runtime deps pinned by the lock"
    assert "pip install --no-deps -e ." in text
    assert re.search(r"^USER 10001$", text, flags=re.M), "runs unprivileged"
    assert "EXPOSE 6066" in text and "/healthz" in text
    # In a container the worker must listen beyond loopback and keep state on the volume.
    assert "CCPULSE_WEB_HOST=0.0.0.0" in text
    assert "CCPULSE_STATE_DIR=/var/lib/ccpulse" in text and 'VOLUME ["/var/lib/ccpulse"]' in text
    # Every COPY source exists and is not excluded by .dockerignore.
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for sources in re.findall(r"^COPY (?!--from=)(.+) \S+$", text, flags=re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), f"COPY {source}: missing in the repository"
            assert source not in ignored, f"{source} is excluded by .dockerignore"


def test_engine_stage_installs_every_library_the_engine_imports() -> None:
    """mypyc type-checks the engine's modules and what they import: a library missing from the
    build stage fails the image build (msgspec once did)."""
    stage = DOCKERFILE.read_text(encoding="utf-8").split("\nFROM ")[1]  # FROM ... AS engine
    (install,) = re.findall(r"^RUN pip install -c requirements\.lock (.+)$", stage, flags=re.M)
    installed = set(install.split())
    imported = set()
    for source in (ROOT / "streams" / "kpi").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"__future__", "streams"}
    assert third_party, "the engine imports some libraries (orjson, msgspec)"
    assert third_party <= installed, f"add {sorted(third_party - installed)} to the engine stage"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", ".venv", "var"):
        assert entry in ignored


def test_docker_compose_config_validates() -> None:
    docker = shutil.which("docker")
    if not docker:
        pytest.skip("docker CLI not installed")
    probe = run_tool([docker, "compose", "version"])
    if probe.returncode != 0:
        pytest.skip(f"docker CLI has no compose plugin: {probe.stderr.strip() or probe.stdout}")
    result = run_tool([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], cwd=ROOT)
    assert_ok(result)


def test_legacy_docker_compose_schema_accepts_the_file(tmp_path: Path) -> None:
    """Schema check with Debian's docker-compose 1.29 when installed (needs no daemon).

    It predates two Compose-spec features used here (top-level `name`, secrets filled from
    `environment`), so those are rewritten first; every other key, type and service option
    is validated against its schema, which catches misspelt options.
    """
    legacy = shutil.which("docker-compose")
    if not legacy:
        pytest.skip("docker-compose (v1, Debian package `docker-compose`) not installed")
    document = load_yaml(COMPOSE)
    document.pop("name")
    for secret in document["secrets"].values():
        assert secret.pop("environment")
        secret["file"] = "/dev/null"
    copy = dump_yaml(document, tmp_path / "docker-compose.yml")
    result = run_tool([legacy, "-f", str(copy), "--project-directory", str(ROOT), "config", "-q"])
    assert_ok(result)
