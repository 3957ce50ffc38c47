"""Scenario files: every shipped one loads; a broken one fails on one line naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.simulator.scenario import ScenarioError, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
REQUIRED = ("normal_day.toml", "peak.toml", "small_centre.toml")

GOOD = """\
[scenario]
opens = "09:00"
closes = "11:00"
interval_minutes = 60

[queues.sales]
volume = [10, 20]
talk = { distribution = "lognormal", mean = 200, sd = 90 }
patience = { distribution = "exponential", mean = 60 }

[[agents]]
team = "a"
count = 2
queues = ["sales"]
shift = "09:00-11:00"
breaks = [{ at = "10:00", minutes = 10 }]
"""


def test_required_scenarios_exist_and_every_scenario_loads() -> None:
    names = {path.name for path in SCENARIOS.glob("*.toml")}
    assert set(REQUIRED) <= names
    for path in sorted(SCENARIOS.glob("*.toml")):
        scenario = load_scenario(path)
        assert scenario.queues and scenario.agent_count > 0, path.name
        assert scenario.name == path.stem


def test_peak_is_the_normal_day_plus_surges() -> None:
    normal = load_scenario(SCENARIOS / "normal_day.toml")
    peak = load_scenario(SCENARIOS / "peak.toml")
    assert peak.queues == normal.queues and peak.groups == normal.groups
    assert not normal.surges and peak.surges


def test_the_large_centre_is_the_benchmark_size() -> None:
    large = load_scenario(SCENARIOS / "large_centre.toml")
    assert large.agent_count == 1000
    calls_per_day = sum(sum(queue.volume) for queue in large.queues)
    assert calls_per_day > 100_000


def test_a_good_scenario_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    assert scenario.day_seconds == 7200 and scenario.intervals == 2
    assert scenario.queues[0].hold.mean == 0  # optional durations default to none
    assert scenario.groups[0].breaks[0].reason == "break"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("volume = [10, 20]", "volume = [10, 20, 30]", "'queues.sales.volume'"),
        ("volume = [10, 20]", "volume = [10, -2]", "'queues.sales.volume'"),
        (
            'distribution = "lognormal"',
            'distribution = "normal"',
            "'queues.sales.talk.distribution'",
        ),
        ("mean = 200, sd = 90", "mean = 200", "'queues.sales.talk.sd'"),
        ("talk = {", "tlak = {", "'queues.sales.tlak'"),
        ('shift = "09:00-11:00"', 'shift = "08:00-11:00"', "'agents[0].shift'"),
        ('shift = "09:00-11:00"', 'shift = "9 to 11"', "'agents[0].shift'"),
        ('queues = ["sales"]', 'queues = ["salse"]', "'agents[0].queues'"),
        ("count = 2", "count = 0", "'agents[0].count'"),
        ('at = "10:00"', 'at = "12:00"', "'agents[0].breaks[0].at'"),
        ('closes = "11:00"', 'closes = "25:00"', "'scenario.closes'"),
        ("interval_minutes = 60", "interval_minutes = 45", "'scenario.interval_minutes'"),
        ('opens = "09:00"', 'opens = "09:00"\ntimezone = "Mars/Base"', "'scenario.timezone'"),
        ("[[agents]]", "[[agent]]", "'agent'"),
    ],
)
def test_a_malformed_scenario_names_the_file_and_key(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    assert old in GOOD
    path = tmp_path / "broken.toml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message and key in message and "\n" not in message


def test_unreadable_scenarios_say_so(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "missing.toml")
    broken = tmp_path / "syntax.toml"
    broken.write_text("[scenario\nopens = 1")
    with pytest.raises(ScenarioError, match=r"syntax\.toml is not valid TOML"):
        load_scenario(broken)


def test_the_command_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(GOOD.replace("count = 2", 'count = "two"'))
    result = subprocess.run(
        [sys.executable, "-m", "streams", "simulate", "--scenario", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert str(path) in result.stderr and "'agents[0].count'" in result.stderr
