"""`ccpulse replay` as a user runs it: a real subprocess of the installed console script."""

from __future__ import annotations

import contextlib
import json
import random
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reference

from streams.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
CCPULSE = ROOT / ".venv" / "bin" / "ccpulse"
FIXTURES = ROOT / "tests" / "fixtures"
BASIC = FIXTURES / "replay_basic.jsonl"
AT = "2026-11-23T10:00:00Z"


def ccpulse(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CCPULSE), "replay", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def expected_basic() -> dict[str, Any]:
    expected = json.loads((FIXTURES / "replay_basic.expected.json").read_text())
    expected.pop("_comment")
    return expected


def assert_one_line_error(result: subprocess.CompletedProcess[str], *names: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])


def test_file_with_at_prints_the_hand_computed_snapshot() -> None:
    result = ccpulse(str(BASIC), "--at", AT)
    assert result.returncode == 0, result.stderr
    problems = reference.differences(expected_basic(), json.loads(result.stdout))
    assert not problems, "\n".join(problems)


def test_stdin_gives_the_same_snapshot_as_the_file() -> None:
    from_file = ccpulse(str(BASIC), "--at", AT)
    from_stdin = ccpulse("-", "--at", AT, stdin=BASIC.read_bytes())
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert json.loads(from_stdin.stdout) == json.loads(from_file.stdout)


def test_rejected_lines_are_reported_not_fatal() -> None:
    result = ccpulse(str(BASIC), "--at", AT)
    assert result.returncode == 0
    # one count per reason with the first line numbers: line 11 not JSON, 18 late, 19 bad state
    for reason, line in (("invalid_json", 11), ("late", 18), ("invalid_field", 19)):
        matches = [row for row in result.stderr.splitlines() if reason in row]
        assert len(matches) == 1, result.stderr
        assert re.search(r"\b1\b", matches[0]) and re.search(rf"\b{line}\b", matches[0]), matches


def test_strict_fails_on_any_rejection_but_still_prints() -> None:
    result = ccpulse(str(BASIC), "--at", AT, "--strict")
    assert result.returncode != 0
    assert "invalid_json" in result.stderr


def test_strict_passes_on_clean_input(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"".join(BASIC.read_bytes().splitlines(keepends=True)[:10]))
    result = ccpulse(str(clean), "--strict")
    assert result.returncode == 0, result.stderr
    snapshot = json.loads(result.stdout)
    # without --at: the first bucket boundary after the newest event (09:55:45 -> 09:55:50)
    assert snapshot["as_of"] == "2026-11-23T09:55:50+00:00"
    assert snapshot["events"] == {"accepted": 10, "duplicates": 0, "rejected": {}}


def test_events_at_or_after_at_are_ignored() -> None:
    result = ccpulse(str(BASIC), "--at", "2026-11-23T09:56:00Z")
    assert result.returncode == 0, result.stderr
    snapshot = json.loads(result.stdout)
    assert snapshot["as_of"] == "2026-11-23T09:56:00+00:00"
    # lines 1-10 accepted; lines 12-17 and 20 are at or after --at; the not-JSON line 11 and
    # the napping line 19 are still rejected; line 18 (09:49:00) is fed and is late against
    # now = 09:55:45 (horizon 09:50:45)
    assert snapshot["events"] == {
        "accepted": 10,
        "duplicates": 0,
        "rejected": {"invalid_json": 1, "invalid_field": 1, "late": 1},
    }
    assert snapshot["queues"]["sales"]["calls_waiting"] == 0


def test_at_with_an_offset() -> None:
    result = ccpulse(str(BASIC), "--at", "2026-11-23T11:00:00+01:00")
    assert json.loads(result.stdout)["as_of"] == "2026-11-23T10:00:00+00:00"


def test_config_option(tmp_path: Path) -> None:
    config = tmp_path / "paris.toml"
    config.write_text(
        'timezone = "Europe/Paris"\nwindows = ["1m", "10m"]\ninterval_minutes = 15\n'
        "bucket_seconds = 5\n\n[queues.sales]\nservice_level_threshold_seconds = 30\n"
    )
    result = ccpulse(str(BASIC), "--at", AT, "--config", str(config))
    assert result.returncode == 0, result.stderr
    sales = json.loads(result.stdout)["queues"]["sales"]
    assert list(sales["windows"]) == ["1m", "10m", "interval", "today"]
    # 10m [09:50, 10:00): c1 (wait 15) and c3 (wait 25) both within the 30 s threshold
    assert sales["windows"]["10m"]["answered_within_threshold"] == 2
    assert sales["windows"]["10m"]["service_level"] == 1.0
    # 10:00Z = 11:00 in Paris starts a 15-minute interval: empty; today from 23:00Z
    assert sales["windows"]["interval"]["offered"] == 0
    assert sales["windows"]["today"]["offered"] == 3


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert_one_line_error(ccpulse(str(missing)), str(missing))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.toml", None),
        ("broken.toml", "timezone = \n"),
        ("directory.toml", "<dir>"),
    ],
)
def test_unreadable_config(tmp_path: Path, name: str, content: str | None) -> None:
    path = tmp_path / name
    if content == "<dir>":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    assert_one_line_error(ccpulse(str(BASIC), "--config", str(path)), str(path))


@pytest.mark.parametrize(
    ("content", "setting"),
    [
        ("bucket_seconds = 7\n", "bucket_seconds"),
        ('timezone = "Mars/Olympus"\n', "timezone"),
        ('windows = ["5x"]\n', "windows"),
        ('[defaults]\nservice_level_formula = "magic"\n', "service_level_formula"),
        ("allowed_lateness_seconds = -1\n", "allowed_lateness_seconds"),
    ],
)
def test_bad_setting(tmp_path: Path, content: str, setting: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    assert_one_line_error(ccpulse(str(BASIC), "--config", str(path)), str(path), setting)


@pytest.mark.parametrize("at", ["garbage", "2026-11-23T10:00:00", "2026-11-23"])
def test_bad_at(at: str) -> None:
    assert_one_line_error(ccpulse(str(BASIC), "--at", at), "--at")


def test_simulated_day_with_disorder_matches_the_reference(tmp_path: Path) -> None:
    """A realistic stream from `ccpulse simulate` (malformed lines included), shuffled within
    the lateness bound and with repeats, replayed by the CLI, equals the brute-force reference."""
    simulated = subprocess.run(
        [
            str(CCPULSE),
            "simulate",
            *("--scenario", str(ROOT / "config" / "scenarios" / "normal_day.toml")),
            *("--start", "2026-11-23T08:00:00Z", "--duration", "90m", "--seed", "11"),
            *("--bad-lines", "0.02"),
        ],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    ).stdout.splitlines()
    assert len(simulated) > 500
    shuffler = random.Random(5)
    keyed = []
    last = 0.0
    for index, line in enumerate(simulated):
        with contextlib.suppress(reference.Rejected):  # malformed lines keep the last ts
            last = reference.decode(line).ts
        delay = shuffler.choice((0, 0, 0, 5, 60, 250)) if shuffler.random() > 0.01 else 900
        keyed.append((last + delay, index, line))
    lines = [line for _, _, line in sorted(keyed)]
    for _ in range(len(lines) // 40):
        source = shuffler.randrange(len(lines))
        lines.insert(shuffler.randrange(source + 1, len(lines) + 1), lines[source])
    events = tmp_path / "day.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    for at in (None, "2026-11-23T09:00:00Z"):
        result = ccpulse(str(events), *(("--at", at) if at else ()))
        assert result.returncode == 0, result.stderr
        at_seconds = datetime.fromisoformat(at).timestamp() if at else None
        expected, admission = reference.replay(lines, load_settings(), at_seconds)
        assert (
            admission.duplicates
            and admission.rejected["late"]
            and admission.rejected["out_of_order"]
        )
        problems = reference.differences(expected, json.loads(result.stdout))
        assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize(
    ("ts", "zone"),
    [
        pytest.param("1e15", "UTC"),
        pytest.param("1e20", "UTC"),
        pytest.param("253402300799", "UTC"),
        pytest.param('"9999-12-31T23:59:59Z"', "UTC"),
        pytest.param('"0001-01-01T00:00:00+01:00"', "UTC"),
        # a negative epoch, like the rejected number -5
        pytest.param('"0001-01-01T00:00:00Z"', "America/New_York"),
    ],
)
def test_absurd_timestamps_are_rejected_not_fatal(tmp_path: Path, ts: str, zone: str) -> None:
    """DESIGN: bad input never crashes anything; replay has no `future` check, so a ts that
    no datetime can hold must be rejected like any unusable ts, not raise."""
    config = tmp_path / "zone.toml"
    config.write_text(f'timezone = "{zone}"\n')
    events = tmp_path / "absurd.jsonl"
    events.write_text(
        '{"type": "call.offered", "event_id": "x", "ts": TS, "call_id": "c0", "queue": "sales"}\n'
        '{"type": "call.offered", "event_id": "e1", "ts": "2026-11-23T09:59:00Z", '
        '"call_id": "c1", "queue": "sales"}\n'.replace("TS", ts)
    )
    result = ccpulse(str(events), "--config", str(config))
    assert "Traceback" not in result.stderr, result.stderr[-300:]
    assert result.returncode == 0, result.stderr[-300:]
    counts = json.loads(result.stdout)["events"]
    assert counts["accepted"] == 1
    assert sum(counts["rejected"].values()) == 1
