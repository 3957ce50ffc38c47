"""Root test configuration. Deliberately light: unit tests must never start services.

Real Kafka / Redis / Prometheus fixtures live in `tests/integration/conftest.py` and only
start when an integration test asks for them. Everything under `tests/integration/` is marked
`integration` here, so `pytest -m "not integration"` runs the unit tests alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS_DIR = Path(__file__).resolve().parent
# `from helpers import wait_until` must work from any test directory and any import mode.
if str(_TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(_TESTS_DIR))

_INTEGRATION_DIR = _TESTS_DIR / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    for item in items:
        if _INTEGRATION_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)
