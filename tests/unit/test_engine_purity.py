"""DESIGN: the KPI engine is pure Python, with no Faust, Kafka, Redis or Prometheus imports.
Checked in a fresh interpreter, for the compiled engine and for its sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ADAPTER_PACKAGES = ("faust", "mode", "aiokafka", "kafka", "redis", "prometheus_client", "aiohttp")
PROBE = """
import json, sys
import streams.kpi, streams.kpi.engine, streams.kpi.decode, streams.kpi.erlang
import streams.kpi.staffing, streams.kpi.timegrid, streams.kpi.tally, streams.kpi.wire
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("pure", ["", "1"])
def test_the_engine_imports_no_adapter(pure: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "CCPULSE_PURE_PYTHON"}
    if pure:
        env["CCPULSE_PURE_PYTHON"] = pure
    output = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout
    modules = json.loads(output)
    assert "streams.kpi.engine" in modules
    leaked = [m for m in modules if m.split(".")[0] in ADAPTER_PACKAGES]
    assert leaked == []
