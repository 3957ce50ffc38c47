"""`ccpulse top`: row layout and colours (pure), and the Textual app driven by its pilot.

The app tests feed it from an in-memory source (the Redis reader is exercised against a real
redis-server under a real pseudo-terminal in tests/integration/test_top_pty.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Static

from streams.cli import main
from streams.config import load_settings
from streams.wallboard.app import Wallboard
from streams.wallboard.source import UNREADABLE, SourceError, parse_snapshot
from streams.wallboard.view import (
    AMBER,
    COLUMNS,
    GREEN,
    RED,
    STALE,
    Cell,
    percent,
    queue_row,
    seconds,
    service_level_colour,
    snapshot_age,
    window_names,
)

SETTINGS = load_settings()  # the project's config: vip targets 90 %, others 80 %
AS_OF = "2026-11-23T10:00:00+00:00"
AS_OF_EPOCH = 1795428000.0


def fresh() -> float:
    """A wall clock one second after the test snapshots' as_of: they are current."""
    return AS_OF_EPOCH + 1


def window(level: float | None, asa: float | None = 12.0, offered: int = 40) -> dict[str, Any]:
    return {
        "offered": offered,
        "service_level": level,
        "asa_seconds": asa,
        "abandon_rate": 0.05,
        "aht_seconds": 301.5,
        "occupancy": 0.83,
    }


def snapshot(levels: dict[str, float | None], waiting: int = 3) -> dict[str, Any]:
    return {
        "as_of": AS_OF,
        "calls_waiting": waiting,
        "oldest_waiting_seconds": 41.0 if waiting else None,
        "agents": {"staffed": 12, "available": 2, "on_call": 8, "wrap_up": 1, "not_ready": 1},
        "windows": {name: window(level) for name, level in levels.items()},
    }


class MemorySource:
    """Stands in for Redis: returns `data`, or raises `failure` while it is set."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.failure: Exception | None = None
        self.fetches = 0

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        if self.failure is not None:
            raise self.failure
        return dict(self.data)

    async def close(self) -> None:
        pass


# ----------------------------------------------------------------------------- pure layout
@pytest.mark.parametrize(
    ("level", "target", "colour"),
    [
        (0.80, 0.80, GREEN),
        (0.95, 0.80, GREEN),
        (0.79, 0.80, AMBER),
        (0.75, 0.80, AMBER),
        (0.749, 0.80, RED),
        (0.86, 0.90, AMBER),
        (0.84, 0.90, RED),
        (None, 0.80, None),
    ],
)
def test_service_level_colour(level: float | None, target: float, colour: str | None) -> None:
    assert service_level_colour(level, target) == colour


def test_number_formats() -> None:
    assert percent(0.8108) == "81.1%" and percent(None) == "-" and percent(float("nan")) == "-"
    assert seconds(14.2) == "14s" and seconds(301.5) == "5:02" and seconds(3725) == "1:02:05"
    assert seconds(None) == "-"


def test_row_uses_the_queue_target_and_the_chosen_window() -> None:
    data = snapshot({"15m": 0.85, "60m": 0.7})
    vip = queue_row("vip", data, "15m", SETTINGS)
    sales = queue_row("sales", data, "15m", SETTINGS)
    assert len(vip.cells) == len(COLUMNS)
    assert vip.cells[3].text == "85.0% / 90%" and vip.cells[3].colour == AMBER
    assert sales.cells[3].text == "85.0% / 80%" and sales.cells[3].colour == GREEN
    assert queue_row("sales", data, "60m", SETTINGS).cells[3].colour == RED
    texts = [cell.text for cell in sales.cells]
    assert texts == ["sales", "3", "41s", "85.0% / 80%", "12s", "5.0%", "5:02", "83.0%", "40",
                     "12", "2", "8", "1", "1"]  # fmt: skip
    # A window the snapshot does not have yet shows dashes, never zeros.
    assert queue_row("sales", data, "today", SETTINGS).cells[3].text == "- / 80%"


def test_unreadable_snapshots_are_marked_not_dropped() -> None:
    assert parse_snapshot(b"not json") is UNREADABLE
    assert parse_snapshot(b"[1, 2]") is UNREADABLE
    assert parse_snapshot(None) is UNREADABLE
    assert parse_snapshot(b'{"calls_waiting": 1}') == {"calls_waiting": 1}
    assert queue_row("sales", UNREADABLE, "15m", SETTINGS).problem == "unreadable"


def test_window_names_cycle_rolling_then_interval_and_today() -> None:
    assert window_names(SETTINGS) == ["5m", "15m", "60m", "interval", "today"]


# ----------------------------------------------------------------------------- the app
def cell_texts(app: Wallboard, queue: str) -> list[str]:
    return [str(cell) for cell in app.query_one(DataTable).get_row(queue)]


def status(app: Wallboard) -> str:
    return str(app.query_one("#status", Static).render())


async def test_board_shows_queues_and_cycles_windows() -> None:
    source = MemorySource(
        {
            "sales": snapshot({"5m": 0.5, "15m": 0.9, "60m": 0.77, "interval": None, "today": 0.8}),
            "vip": snapshot({"15m": 0.95}, waiting=0),
        }
    )
    app = Wallboard(SETTINGS, source, "memory", clock=fresh)
    async with app.run_test(size=(160, 20)) as pilot:
        await pilot.pause()
        assert app.window == "15m"
        assert cell_texts(app, "sales")[:4] == ["sales", "3", "41s", "90.0% / 80%"]
        assert cell_texts(app, "vip")[1:4] == ["0", "-", "95.0% / 90%"]
        assert app.query_one(DataTable).get_row("sales")[3].style == "bold green"
        await pilot.press("w")
        assert app.window == "60m"
        assert cell_texts(app, "sales")[3] == "77.0% / 80%"
        assert app.query_one(DataTable).get_row("sales")[3].style == "bold #ffaf00"  # amber
        await pilot.press("w", "w", "w")
        assert app.window == "5m"  # wrapped around past `today`
        assert app.query_one(DataTable).get_row("sales")[3].style == "bold red"
        await pilot.press("W")
        assert app.window == "today"
        await pilot.press("4")
        assert app.window == "interval"
        assert cell_texts(app, "sales")[3] == "- / 80%"
        assert "2 queue(s)" in status(app)
        title = str(app.query_one("#title", Static).render())
        assert "as of 10:00:00Z (2026-11-23)" in title and "[interval]" in title


async def test_board_survives_a_failing_source_and_recovers() -> None:
    source = MemorySource({"sales": snapshot({"15m": 0.9})})
    app = Wallboard(
        SETTINGS, source, "Redis redis://127.0.0.1:1/0", refresh_seconds=0.05, clock=fresh
    )
    async with app.run_test(size=(160, 20)) as pilot:
        await pilot.pause()
        source.failure = SourceError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
        seen = source.fetches
        while source.fetches < seen + 2:
            await pilot.pause(0.05)
        text = status(app)
        assert "unreachable" in text and "Connection refused" in text and "retrying" in text
        assert app.query_one("#status").has_class("problem")
        assert cell_texts(app, "sales")[3] == "90.0% / 80%"  # last data stays on screen
        source.failure = RuntimeError("something nobody expected")
        seen = source.fetches
        while source.fetches < seen + 2:
            await pilot.pause(0.05)
        assert "failed" in status(app) and app.is_running
        source.failure = None
        source.data = {"sales": snapshot({"15m": 0.6}), "care": UNREADABLE}
        seen = source.fetches
        while source.fetches < seen + 2:
            await pilot.pause(0.05)
        assert not app.query_one("#status").has_class("problem")
        assert cell_texts(app, "sales")[3] == "60.0% / 80%"
        assert cell_texts(app, "care")[1] == "unreadable"
        assert "unreadable snapshot for queue(s): care" in status(app)


async def test_empty_redis_says_no_queues_yet() -> None:
    app = Wallboard(SETTINGS, MemorySource({}), "Redis x")
    async with app.run_test(size=(120, 12)) as pilot:
        await pilot.pause()
        assert "no queues yet" in status(app)
        await pilot.press("q")
    assert not app.is_running


def test_cli_rejects_an_unknown_window(capsys: pytest.CaptureFixture) -> None:
    assert main(["top", "--window", "2h"]) == 2
    assert "--window '2h' is not one of 5m, 15m, 60m, interval, today" in capsys.readouterr().err


def test_a_snapshot_older_than_five_intervals_is_greyed_and_aged() -> None:
    """publish_interval_seconds = 1, so stale after 10 s (the 10 s floor)."""
    current = queue_row("sales", snapshot({"15m": 0.9}), "15m", SETTINGS, AS_OF_EPOCH + 10)
    assert current.problem is None and current.cells[3].colour == GREEN
    stale = queue_row("sales", snapshot({"15m": 0.9}), "15m", SETTINGS, AS_OF_EPOCH + 125)
    assert stale.problem == STALE
    assert stale.cells[0] == Cell("sales (stale 2:05)", RED)
    assert [cell.text for cell in stale.cells[1:4]] == ["3", "41s", "90.0% / 80%"]
    assert {cell.colour for cell in stale.cells[1:]} == {STALE}  # no green on frozen numbers


def test_age_needs_a_readable_as_of() -> None:
    assert snapshot_age(snapshot({}), AS_OF_EPOCH + 3) == 3.0
    assert snapshot_age({"as_of": "2026-11-23T10:00:00"}, AS_OF_EPOCH) is None  # no offset
    assert snapshot_age({"calls_waiting": 1}, AS_OF_EPOCH) is None
    assert snapshot_age(UNREADABLE, AS_OF_EPOCH) is None
    no_as_of = queue_row("care", {"calls_waiting": 1}, "15m", SETTINGS, AS_OF_EPOCH + 999)
    assert no_as_of.problem is None


async def test_board_marks_queues_whose_worker_stopped_publishing() -> None:
    old = dict(snapshot({"15m": 0.95}, waiting=0), as_of="2026-11-23T09:58:00+00:00")
    source = MemorySource({"sales": snapshot({"15m": 0.9}), "vip": old})
    app = Wallboard(SETTINGS, source, "memory", clock=fresh)
    async with app.run_test(size=(160, 20)) as pilot:
        await pilot.pause()
        assert cell_texts(app, "vip")[0] == "vip (stale 2:01)"
        assert app.query_one(DataTable).get_row("vip")[3].style == "dim"
        assert cell_texts(app, "sales")[0] == "sales"
        assert app.query_one(DataTable).get_row("sales")[3].style == "bold green"
        text = status(app)
        assert "1 queue(s) not updated for over 10 s: vip" in text and "running" in text
        assert app.query_one("#status").has_class("problem")
