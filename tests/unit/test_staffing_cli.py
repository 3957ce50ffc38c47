"""`ccpulse staffing`: JSON and table output, Erlang C / Erlang A choice, errors exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli import main

EXAMPLE = [
    "staffing",
    "--calls",
    "100",
    "--interval-minutes",
    "30",
    "--aht-seconds",
    "180",
    "--threshold-seconds",
    "20",
    "--target",
    "0.8",
]
JSON_FIELDS = {
    "model",
    "traffic_erlangs",
    "agents",
    "agents_with_shrinkage",
    "wait_probability",
    "service_level",
    "asa_seconds",
    "occupancy",
    "abandon_probability",
}
CCPULSE = Path(sys.executable).with_name("ccpulse")


def run_json(capsys, *extra: str) -> dict:
    assert main([*EXAMPLE, *extra, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_json_published_example(capsys):
    result = run_json(capsys, "--max-occupancy", "0.85", "--shrinkage", "0.3")
    assert set(result) == JSON_FIELDS
    assert result["model"] == "erlang_c"
    assert result["traffic_erlangs"] == 10.0
    assert result["agents"] == 14
    assert result["agents_with_shrinkage"] == 20
    assert result["wait_probability"] == pytest.approx(0.17413, abs=5e-6)
    assert result["service_level"] == pytest.approx(0.88835, abs=5e-6)
    assert result["asa_seconds"] == pytest.approx(7.836, abs=5e-4)
    assert result["occupancy"] == pytest.approx(0.714, abs=5e-4)
    assert result["abandon_probability"] is None


def test_json_shrinkage_is_exact_for_21_agents(capsys):
    # 21 agents needed at 30 % shrinkage -> 30 scheduled (float arithmetic would say 31).
    result = run_json(capsys, "--agents", "21", "--shrinkage", "0.3")
    assert (result["agents"], result["agents_with_shrinkage"]) == (21, 30)


def test_without_shrinkage_scheduled_equals_agents(capsys):
    result = run_json(capsys)
    assert result["agents"] == result["agents_with_shrinkage"] == 14


def test_patience_switches_to_erlang_a(capsys):
    result = run_json(capsys, "--patience-seconds", "120")
    assert result["model"] == "erlang_a"
    assert 0.0 < result["abandon_probability"] < 1.0
    assert result["agents"] < 14  # callers who give up leave the queue shorter
    assert result["service_level"] >= 0.8
    below = run_json(capsys, "--patience-seconds", "120", "--agents", str(result["agents"] - 1))
    assert below["service_level"] < 0.8


def test_agents_evaluates_instead_of_solving(capsys):
    result = run_json(capsys, "--agents", "12")
    assert result["agents"] == 12
    assert result["service_level"] == pytest.approx(0.6402, abs=1e-4)
    assert result["occupancy"] == pytest.approx(10 / 12)


def test_unstable_staffing_reports_null_asa(capsys):
    result = run_json(capsys, "--agents", "10")
    assert result["asa_seconds"] is None
    assert (result["wait_probability"], result["service_level"]) == (1.0, 0.0)


def test_table_shows_agents_around_the_answer(capsys):
    assert main([*EXAMPLE, "--shrinkage", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "Erlang C" in out and "10.00 Erlangs" in out
    assert "Answer: 14 agents on the phones, 20 scheduled" in out
    assert "→ 14" in out
    for agents in range(11, 18):
        assert f" {agents} " in out
    for cell in ("88.8 %", "7.8 s", "71.4 %", "17.4 %", "79.6 %"):
        assert cell in out


def test_table_verdict_for_given_agents(capsys):
    assert main([*EXAMPLE, "--agents", "12", "--max-occupancy", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "12 agents miss the service level target and are busier than 80 %" in out
    assert main([*EXAMPLE, "--agents", "15"]) == 0
    assert "15 agents meet the service level target\n" in capsys.readouterr().out


def test_table_for_erlang_a_has_abandonment(capsys):
    assert main([*EXAMPLE, "--patience-seconds", "120"]) == 0
    out = capsys.readouterr().out
    assert "Erlang A (mean patience 120 s)" in out
    assert "Abandoned" in out


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--calls", "0"], "--calls must be above 0"),
        (["--calls", "-5"], "--calls must be above 0"),
        (["--aht-seconds", "0"], "--aht-seconds must be above 0"),
        (["--target", "1"], "--target must be a fraction between 0 and 1"),
        (["--target", "0"], "--target must be a fraction between 0 and 1"),
        (["--target", "80"], "e.g. 0.8 for 80 %"),
        (["--shrinkage", "1"], "--shrinkage must be a fraction from 0 to below 1"),
        (["--max-occupancy", "1.2"], "--max-occupancy must be"),
        (["--interval-minutes", "0"], "--interval-minutes must be above 0"),
        (["--threshold-seconds", "-1"], "--threshold-seconds must be 0 or more"),
        (["--patience-seconds", "0"], "--patience-seconds must be above 0"),
        (["--agents", "0"], "--agents must be 1 or more"),
        (["--calls", "1e12"], "above the supported 1,000,000; check their units"),
    ],
)
def test_impossible_input_is_a_one_line_error(capsys, flags, words):
    # Later flags override the example's, as argparse keeps the last value.
    assert main([*EXAMPLE, *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("ccpulse staffing: error: ")
    assert words in captured.err


@pytest.mark.parametrize(
    "flags",
    [["--calls", "abc"], ["--calls", "nan"], ["--aht-seconds", "inf"], ["--agents", "2.5"], []],
)
def test_unreadable_flags_exit_2(capsys, flags):
    argv = ["staffing", *flags] if not flags else [*EXAMPLE, *flags]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_installed_command_prints_json_and_exits_2_on_bad_input():
    ok = subprocess.run(
        [str(CCPULSE), *EXAMPLE, "--patience-seconds", "180", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert set(result) == JSON_FIELDS
    assert result["model"] == "erlang_a"

    bad = subprocess.run(
        [str(CCPULSE), *EXAMPLE, "--shrinkage", "1.5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "ccpulse staffing: error: --shrinkage must be a fraction from 0 to below 1, "
        "e.g. 0.3 for 30 %, got 1.5"
    ]

    table = subprocess.run(
        [str(CCPULSE), *EXAMPLE], capture_output=True, text=True, timeout=60, check=False
    )
    assert table.returncode == 0
    assert "→ 14" in table.stdout and "88.8 %" in table.stdout
