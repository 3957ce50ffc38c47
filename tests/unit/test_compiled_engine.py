"""The mypyc-compiled engine: used only when built from the current sources, and it agrees with
the pure-Python sources byte for byte on a replay."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import streams.kpi
import streams.kpi.engine
from streams.kpi import COMPILED_DIR, STAMP_NAME, sources_digest

ROOT = Path(__file__).resolve().parents[2]
compiled_built = pytest.mark.skipif(
    not (COMPILED_DIR / STAMP_NAME).exists(),
    reason="no compiled engine (tools/compile_engine.py; ./dev builds it)",
)


def _build_in(package_root: Path, env: dict[str, str] | None = None) -> str:
    """streams.kpi.BUILD as a fresh interpreter sees it with `package_root` first on the path."""
    result = subprocess.run(
        [sys.executable, "-c", "import streams.kpi.engine, streams.kpi as k; print(k.BUILD)"],
        cwd=package_root,
        env={**os.environ, "PYTHONPATH": str(package_root), **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@compiled_built
def test_this_run_uses_the_compiled_engine_when_it_is_current() -> None:
    # ./dev test builds it first, so the whole suite exercises the compiled code.
    if os.environ.get("CCPULSE_PURE_PYTHON", "") not in ("", "0"):
        assert streams.kpi.BUILD == "python"
        return
    assert (COMPILED_DIR / STAMP_NAME).read_text().strip() == sources_digest()
    assert streams.kpi.BUILD == "mypyc"
    assert streams.kpi.engine.__file__.endswith(".so")


@compiled_built
def test_an_edited_source_never_runs_stale_compiled_code(tmp_path: Path) -> None:
    copy = tmp_path / "streams"
    shutil.copytree(ROOT / "streams", copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert _build_in(tmp_path, {"CCPULSE_PURE_PYTHON": ""}) == "mypyc"
    assert _build_in(tmp_path, {"CCPULSE_PURE_PYTHON": "1"}) == "python"
    engine = copy / "kpi" / "engine.py"
    engine.write_text(engine.read_text() + "\n# edited after compiling\n")
    assert _build_in(tmp_path, {"CCPULSE_PURE_PYTHON": ""}) == "python"


@compiled_built
def test_compiled_and_pure_replays_agree_exactly(tmp_path: Path) -> None:
    # Simulated traffic with bad lines over midnight and the end of DST in New York (01:00
    # happens twice), with the "removed" formula: the engine's code paths on real-looking input.
    events = tmp_path / "night.jsonl"
    ccpulse = [sys.executable, "-m", "streams"]
    traffic = ["--scenario", "config/scenarios/peak.toml", "--seed", "7", "--bad-lines", "0.01"]
    span = ["--start", "2026-10-31T20:00:00-04:00", "--duration", "12h"]
    subprocess.run(
        [*ccpulse, "simulate", *traffic, *span, "--out", str(events)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    config = tmp_path / "ccpulse.toml"
    config.write_text(
        'timezone = "America/New_York"\n[defaults]\nservice_level_formula = "removed"\n'
    )
    outputs = {}
    for pure in ("", "1"):
        result = subprocess.run(
            [*ccpulse, "replay", str(events), "--config", str(config)],
            cwd=ROOT,
            env={**os.environ, "CCPULSE_PURE_PYTHON": pure},
            capture_output=True,
        )
        assert result.returncode == 0, result.stderr
        outputs[pure] = (result.stdout, result.stderr)
    assert b'"queues"' in outputs[""][0]
    assert b"invalid_json" in outputs[""][1]  # the bad lines were counted
    assert outputs[""] == outputs["1"]
