"""What the wallboard shows, as plain data: one row per queue for the chosen window.

Pure functions (no terminal, no Redis) so the layout rules are easy to test: number formats,
the service-level colour against the queue's target, and what a missing or broken snapshot
looks like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.config import Settings

GREEN, AMBER, RED = "green", "amber", "red"
STALE = "stale"  # a row whose numbers stopped updating: shown, but not to be acted on
# "Amber" is within this many points (fraction 0.05 = 5 percentage points) below the target.
AMBER_BAND = 0.05
NONE_TEXT = "-"
AGENT_STATES = ("staffed", "available", "on_call", "wrap_up", "not_ready")
COLUMNS = (
    "Queue",
    "Waiting",
    "Oldest",
    "Service level",
    "ASA",
    "Abandon",
    "AHT",
    "Occupancy",
    "Offered",
    "Staffed",
    "Avail",
    "On call",
    "Wrap",
    "Not ready",
)


def window_names(settings: Settings) -> list[str]:
    """The windows a wallboard can show, in cycling order: rolling ones, interval, today."""
    return [*settings.windows, "interval", "today"]


def service_level_colour(value: float | None, target: float) -> str | None:
    """Green at or above target, amber less than 5 points below, red further below."""
    if value is None:
        return None
    if value >= target:
        return GREEN
    if value >= target - AMBER_BAND - 1e-12:  # 75 % against 80 % is still amber
        return AMBER
    return RED


def stale_after_seconds(settings: Settings) -> float:
    """A snapshot older than this has stopped updating (its worker is down, or cut off from
    Kafka or Redis): five publish intervals, and at least 10 s so a slow publish is not one."""
    return max(10.0, 5 * settings.publish_interval_seconds)


def as_of_moment(snapshot: Any) -> datetime | None:
    """A snapshot's `as_of` as an aware time in UTC, or None if it is missing or unreadable."""
    if not isinstance(snapshot, dict):
        return None
    try:
        moment = datetime.fromisoformat(snapshot.get("as_of"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def snapshot_age(snapshot: Any, now: float) -> float | None:
    """Seconds from the snapshot's `as_of` to `now`; None if it has no readable `as_of`."""
    moment = as_of_moment(snapshot)
    return None if moment is None else now - moment.timestamp()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def percent(value: Any) -> str:
    number = _number(value)
    return NONE_TEXT if number is None else f"{number * 100:.1f}%"


def seconds(value: Any) -> str:
    """Short durations as `42s`, longer ones as `m:ss`, hours as `h:mm:ss`."""
    number = _number(value)
    if number is None:
        return NONE_TEXT
    whole = round(number)
    if whole < 60:
        return f"{whole}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def count(value: Any) -> str:
    number = _number(value)
    return NONE_TEXT if number is None else str(int(number))


@dataclass(frozen=True)
class Cell:
    text: str
    colour: str | None = None


@dataclass(frozen=True)
class Row:
    queue: str
    cells: tuple[Cell, ...]
    problem: str | None = None  # "unreadable" (the snapshot could not be read) or STALE


def queue_row(
    name: str, snapshot: Any, window: str, settings: Settings, now: float | None = None
) -> Row:
    """One queue's row. A snapshot that is not the expected object shows as a problem row; one
    older than `stale_after_seconds` at `now` keeps its numbers, greyed, with its age."""
    if not isinstance(snapshot, dict):
        return Row(name, (Cell(name),) + (Cell(NONE_TEXT),) * (len(COLUMNS) - 1), "unreadable")
    windows = snapshot.get("windows") if isinstance(snapshot.get("windows"), dict) else {}
    values = windows.get(window) if isinstance(windows.get(window), dict) else {}
    agents = snapshot.get("agents") if isinstance(snapshot.get("agents"), dict) else {}
    target = settings.for_queue(name).service_level_target
    level = _number(values.get("service_level"))
    cells = (
        Cell(name),
        Cell(count(snapshot.get("calls_waiting"))),
        Cell(seconds(snapshot.get("oldest_waiting_seconds"))),
        Cell(f"{percent(level)} / {target * 100:.0f}%", service_level_colour(level, target)),
        Cell(seconds(values.get("asa_seconds"))),
        Cell(percent(values.get("abandon_rate"))),
        Cell(seconds(values.get("aht_seconds"))),
        Cell(percent(values.get("occupancy"))),
        Cell(count(values.get("offered"))),
        *(Cell(count(agents.get(state))) for state in AGENT_STATES),
    )
    age = None if now is None else snapshot_age(snapshot, now)
    if age is not None and age > stale_after_seconds(settings):
        # Frozen numbers look like live ones: grey them all (a green service level too) and
        # say how old they are, so nobody moves agents on them.
        stale = tuple(Cell(cell.text, STALE) for cell in cells[1:])
        return Row(name, (Cell(f"{name} (stale {seconds(age)})", RED), *stale), STALE)
    return Row(name, cells)


def board_rows(
    snapshots: dict[str, Any], window: str, settings: Settings, now: float | None = None
) -> list[Row]:
    return [queue_row(name, snapshots[name], window, settings, now) for name in sorted(snapshots)]
