"""Fixtures for the deployment tests; helpers live in deploy_helpers.py."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from deploy_helpers import RULES_FILE, load_yaml, require_tool


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool", "prometheus")


@pytest.fixture(scope="session")
def amtool() -> str:
    # amtool is a second opinion on top of the structural Alertmanager tests, so it is optional
    # even under CI.
    found = shutil.which("amtool")
    if not found:
        pytest.skip("amtool not found (Debian package `prometheus-alertmanager`)")
    return found


@pytest.fixture(scope="session")
def rules_doc() -> dict[str, Any]:
    return load_yaml(RULES_FILE)
