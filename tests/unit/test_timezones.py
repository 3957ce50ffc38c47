"""`today` and `interval` in non-UTC zones across DST changes, hand-computed.

Europe/Paris 2026: spring 2026-03-29 01:00Z (02:00 CET -> 03:00 CEST), autumn 2026-10-25 01:00Z
(03:00 CEST -> 02:00 CET, so local 02:00-03:00 happens twice: 00:00-01:00Z then 01:00-02:00Z).
America/New_York 2026: spring 2026-03-08 07:00Z (02:00 EST -> 03:00 EDT), autumn 2026-11-01
06:00Z (02:00 EDT -> 01:00 EST, local 01:00-02:00 twice: 05:00-06:00Z then 06:00-07:00Z).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reference
from reference import EventFactory

from streams.config import Settings, settings_from_mapping
from streams.replay import replay_lines


def z(text: str) -> float:
    """'2026-03-29T01:10:00' (UTC) -> epoch seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def make_settings(zone: str, interval_minutes: int) -> Settings:
    return settings_from_mapping(
        {
            "timezone": zone,
            "windows": ["5m"],
            "interval_minutes": interval_minutes,
            "allowed_lateness_seconds": 86400,
        }
    )


def engine_snapshot(lines: list[str], settings: Settings, at: float) -> dict[str, Any]:
    return replay_lines([line.encode() for line in lines], settings, at).snapshot


def reference_snapshot(lines: list[str], settings: Settings, at: float) -> dict[str, Any]:
    return reference.replay(lines, settings, at)[0]


@pytest.fixture(params=["engine", "reference"])
def snap(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return engine_snapshot if request.param == "engine" else reference_snapshot


def offers(*moments: str) -> list[str]:
    f = EventFactory()
    return [f.offered(z(moment), f"c{index}") for index, moment in enumerate(moments)]


# (zone, interval_minutes, as_of UTC, offers UTC, expected interval count, expected today count)
CASES = [
    pytest.param(
        "Europe/Paris",
        30,
        "2026-03-29T01:10:00",
        # today starts at 00:00 CET = 2026-03-28T23:00Z; interval at 03:00 CEST = 01:00Z
        [
            "2026-03-28T22:59:50",
            "2026-03-28T23:00:00",
            "2026-03-29T00:59:50",
            "2026-03-29T01:00:00",
            "2026-03-29T01:05:00",
        ],
        2,
        4,
        id="paris-spring-after-change",
    ),
    pytest.param(
        "Europe/Paris",
        60,
        "2026-03-29T00:50:00",
        # 01:50 CET: interval from 01:00 CET = 00:00Z
        ["2026-03-28T23:59:50", "2026-03-29T00:00:00", "2026-03-29T00:45:00"],
        2,
        3,
        id="paris-spring-before-change",
    ),
    pytest.param(
        "Europe/Paris",
        60,
        "2026-03-29T01:00:00",
        # 03:00 CEST exactly: a fresh interval, empty
        ["2026-03-29T00:00:00", "2026-03-29T00:59:59"],
        0,
        2,
        id="paris-spring-boundary",
    ),
    pytest.param(
        "Europe/Paris",
        30,
        "2026-10-25T01:40:00",
        # 02:40 CET (second pass): interval from 02:30 CET = 01:30Z; today from
        # 00:00 CEST = 2026-10-24T22:00Z
        [
            "2026-10-24T21:59:59",
            "2026-10-24T22:00:00",
            "2026-10-25T00:30:00",
            "2026-10-25T01:00:00",
            "2026-10-25T01:30:00",
            "2026-10-25T01:35:00",
        ],
        2,
        5,
        id="paris-autumn-second-pass-30",
    ),
    pytest.param(
        "Europe/Paris",
        60,
        "2026-10-25T01:40:00",
        # interval from 02:00 CET = 01:00Z, NOT 02:00 CEST = 00:00Z
        ["2026-10-25T00:30:00", "2026-10-25T01:00:00", "2026-10-25T01:30:00"],
        2,
        3,
        id="paris-autumn-second-pass-60",
    ),
    pytest.param(
        "Europe/Paris",
        60,
        "2026-10-25T00:40:00",
        # 02:40 CEST (first pass): interval from 02:00 CEST = 00:00Z
        ["2026-10-24T23:59:59", "2026-10-25T00:00:00", "2026-10-25T00:30:00"],
        2,
        3,
        id="paris-autumn-first-pass",
    ),
    pytest.param(
        "Europe/Paris",
        30,
        "2026-10-24T22:00:00",
        # local midnight exactly: today and interval are both empty
        ["2026-10-24T21:00:00", "2026-10-24T21:59:59"],
        0,
        0,
        id="paris-midnight",
    ),
    pytest.param(
        "Europe/Paris",
        30,
        "2026-10-25T23:30:00",
        # 00:30 CET on the 26th: today from 2026-10-25T23:00Z
        ["2026-10-25T22:59:59", "2026-10-25T23:00:00", "2026-10-25T23:29:59"],
        0,
        2,
        id="paris-day-after-the-25-hour-day",
    ),
    pytest.param(
        "America/New_York",
        30,
        "2026-03-08T07:20:00",
        # 03:20 EDT: interval from 03:00 EDT = 07:00Z; today from 00:00 EST = 05:00Z
        [
            "2026-03-08T04:59:59",
            "2026-03-08T05:00:00",
            "2026-03-08T06:59:59",
            "2026-03-08T07:00:00",
            "2026-03-08T07:10:00",
        ],
        2,
        4,
        id="new-york-spring",
    ),
    pytest.param(
        "America/New_York",
        60,
        "2026-11-01T06:40:00",
        # 01:40 EST (second pass): interval from 01:00 EST = 06:00Z; today from 00:00 EDT = 04:00Z
        [
            "2026-11-01T03:59:59",
            "2026-11-01T04:00:00",
            "2026-11-01T05:30:00",
            "2026-11-01T06:00:00",
            "2026-11-01T06:35:00",
        ],
        2,
        4,
        id="new-york-autumn-second-pass-60",
    ),
    pytest.param(
        "America/New_York",
        30,
        "2026-11-01T06:40:00",
        ["2026-11-01T06:29:59", "2026-11-01T06:30:00", "2026-11-01T06:35:00"],
        2,
        3,
        id="new-york-autumn-second-pass-30",
    ),
    pytest.param(
        "America/Santiago",
        30,
        "2026-09-06T04:10:00",
        # 00:00 -04 jumps to 01:00 -03: the day starts at 01:00 local = 04:00Z
        ["2026-09-06T03:59:59", "2026-09-06T04:00:00", "2026-09-06T04:05:00"],
        2,
        2,
        id="santiago-spring-no-local-midnight",
    ),
    pytest.param(
        "America/Santiago",
        60,
        "2026-04-05T03:40:00",
        # 00:00 -03 on the 5th goes back to 23:00 -04 on the 4th: 23:40 (second pass);
        # interval from 23:00 -04 = 03:00Z; today from 2026-04-04 00:00 -03 = 03:00Z (25 h)
        [
            "2026-04-04T02:59:59",
            "2026-04-04T03:00:00",
            "2026-04-05T02:40:00",
            "2026-04-05T03:35:00",
        ],
        1,
        3,
        id="santiago-autumn-last-hour-twice",
    ),
    pytest.param(
        "America/New_York",
        15,
        "2026-11-01T05:50:00",
        # 01:50 EDT (first pass): interval from 01:45 EDT = 05:45Z
        ["2026-11-01T05:44:59", "2026-11-01T05:45:00"],
        1,
        2,
        id="new-york-autumn-first-pass-15",
    ),
]


@pytest.mark.parametrize(("zone", "minutes", "as_of", "moments", "interval", "today"), CASES)
def test_interval_and_today_counts(  # type: ignore[no-untyped-def]
    snap, zone: str, minutes: int, as_of: str, moments: list[str], interval: int, today: int
) -> None:
    result = snap(offers(*moments), make_settings(zone, minutes), z(as_of))
    windows = result["queues"]["sales"]["windows"] if result["queues"] else None
    assert windows is not None
    assert windows["interval"]["offered"] == interval
    assert windows["today"]["offered"] == today
    assert result["as_of"] == datetime.fromtimestamp(z(as_of), UTC).isoformat()


def test_occupancy_today_over_the_25_hour_day(snap) -> None:  # type: ignore[no-untyped-def]
    f = EventFactory()
    lines = [
        f.state(z("2026-10-24T21:00:00"), "a1", "available", team="t1"),  # 23:00 CEST on the 24th
        f.state(z("2026-10-25T01:00:00"), "a1", "on_call", team="t1"),  # 02:00 CET
    ]
    result = snap(lines, make_settings("Europe/Paris", 60), z("2026-10-25T01:40:00"))
    # today [22:00Z, 01:40Z): idle 22:00-01:00Z = 180 min, busy 40 min
    today = result["queues"]["sales"]["windows"]["today"]
    assert today["occupancy"] == pytest.approx(40 / 220)
    # interval [01:00Z, 01:40Z): busy only
    assert result["queues"]["sales"]["windows"]["interval"]["occupancy"] == pytest.approx(1.0)
    assert result["teams"]["t1"]["windows"]["today"]["occupancy"] == pytest.approx(40 / 220)


def test_occupancy_today_over_the_23_hour_day(snap) -> None:  # type: ignore[no-untyped-def]
    f = EventFactory()
    lines = [
        f.state(z("2026-03-28T22:00:00"), "a1", "on_call"),  # 23:00 CET on the 28th
        f.state(z("2026-03-29T00:00:00"), "a1", "available"),  # 01:00 CET
        f.state(z("2026-03-29T01:30:00"), "a1", "on_call"),  # 03:30 CEST
    ]
    result = snap(lines, make_settings("Europe/Paris", 30), z("2026-03-29T02:00:00"))
    # today [23:00Z, 02:00Z): busy 60 + 30 min, idle 90 min
    assert result["queues"]["sales"]["windows"]["today"]["occupancy"] == pytest.approx(0.5)
    # 02:00Z = 04:00 CEST is an interval boundary: the interval window is empty
    assert result["queues"]["sales"]["windows"]["interval"]["occupancy"] is None
