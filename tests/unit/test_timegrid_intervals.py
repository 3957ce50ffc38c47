"""WFM interval starts around DST changes, against the reference's minute-by-minute reading of
the local clock (tests/reference.py).

A boundary is an instant at which the local clock shows a multiple of `interval_minutes` since
midnight (each time it does) or jumps forward past one. Intervals longer than the DST shift
used to start in the first pass of a repeated hour for some instants and in the second for
others, so the interval start went backwards (and the engine stopped folding into it)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import reference

from streams.config import settings_from_mapping
from streams.kpi.timegrid import TimeGrid

# (zone, a UTC instant near a clock change or none)
CHANGES = (
    ("Europe/Paris", datetime(2026, 3, 29, 1, tzinfo=UTC)),  # 02:00 CET -> 03:00 CEST
    ("Europe/Paris", datetime(2026, 10, 25, 1, tzinfo=UTC)),  # 03:00 CEST -> 02:00 CET
    ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),  # 02:00 EDT -> 01:00 EST
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, tzinfo=UTC)),  # 02:00 -> 01:30
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),  # 02:00 -> 02:30
    ("America/Santiago", datetime(2026, 9, 6, 4, tzinfo=UTC)),  # 00:00 -> 01:00
    ("America/Santiago", datetime(2026, 4, 5, 3, tzinfo=UTC)),  # 24:00 -> 23:00
    ("UTC", datetime(2026, 11, 23, tzinfo=UTC)),
)
INTERVALS = (15, 30, 45, 60, 90, 120, 180, 360, 1440)


@pytest.mark.parametrize("interval_minutes", INTERVALS)
@pytest.mark.parametrize(("zone_name", "change"), CHANGES)
def test_interval_start_is_the_latest_boundary(
    zone_name: str, change: datetime, interval_minutes: int
) -> None:
    grid = TimeGrid(5, interval_minutes, zone_name)
    settings = settings_from_mapping({"timezone": zone_name, "interval_minutes": interval_minutes})
    centre = int(change.timestamp())
    starts = []
    for moment in range(centre - 6 * 3600, centre + 6 * 3600, 600):
        expected = reference.interval_start(moment, settings)
        assert grid.interval_start(moment) == expected, (
            datetime.fromtimestamp(moment, ZoneInfo(zone_name)).isoformat(),
            datetime.fromtimestamp(expected, ZoneInfo(zone_name)).isoformat(),
        )
        starts.append(expected)
    assert starts == sorted(starts)  # never backwards


def test_paris_two_hour_intervals_on_the_autumn_change() -> None:
    grid = TimeGrid(10, 120, "Europe/Paris")

    def start(iso: str) -> str:
        moment = datetime.fromisoformat(iso).timestamp()
        return datetime.fromtimestamp(grid.interval_start(moment), UTC).isoformat()

    # 02:00 local is shown twice (00:00Z in summer time, 01:00Z in winter time): each starts one.
    assert start("2026-10-25T02:30:00+02:00") == "2026-10-25T00:00:00+00:00"
    assert start("2026-10-25T02:30:00+01:00") == "2026-10-25T01:00:00+00:00"
    # Was 00:00Z: the first pass, after the second pass had started an interval at 01:00Z.
    assert start("2026-10-25T03:40:00+01:00") == "2026-10-25T01:00:00+00:00"
    assert start("2026-10-25T04:00:00+01:00") == "2026-10-25T03:00:00+00:00"


def test_paris_two_hour_intervals_on_the_spring_change() -> None:
    grid = TimeGrid(10, 120, "Europe/Paris")
    moment = datetime.fromisoformat("2026-03-29T03:30:00+02:00").timestamp()
    # 02:00 is never shown: the clock jumps past it at 01:00Z, which starts the interval.
    assert grid.interval_start(moment) == datetime(2026, 3, 29, 1, tzinfo=UTC).timestamp()
