"""Scenario files (`config/scenarios/*.toml`): queues, volumes, agents, shifts, breaks, surges.

Clock times in a scenario ("08:00") are times of the scenario's day. A run maps the opening
time to its start, so the same scenario can be played from any `--start`; when a run is longer
than the day (`closes - opens`), the day repeats. Every value is validated on load and an error
names the file and the dotted key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.errors import UserError
from streams.tomlreader import TomlReader

DISTRIBUTIONS = ("exponential", "lognormal", "gamma", "fixed")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ScenarioError(UserError):
    """A scenario file is wrong; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """A random duration in seconds. `probability` is the chance that it happens at all
    (e.g. only a quarter of calls are put on hold); otherwise the duration is 0."""

    kind: str
    mean: float
    sd: float = 0.0
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    volume: tuple[float, ...]  # calls offered per interval, from the opening time
    talk: Distribution
    hold: Distribution
    acw: Distribution
    patience: Distribution | None  # None: callers never hang up


@dataclass(frozen=True, slots=True)
class BreakSpec:
    at_minute: int  # minute of the scenario day
    minutes: float
    reason: str


@dataclass(frozen=True, slots=True)
class AgentGroup:
    team: str
    count: int
    queues: tuple[str, ...]
    shift_start_minute: int
    shift_end_minute: int
    breaks: tuple[BreakSpec, ...]


@dataclass(frozen=True, slots=True)
class Surge:
    queue: str | None  # None: every queue
    from_minute: int
    to_minute: int
    factor: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    source: str
    date: date
    timezone: str
    opens_minute: int
    closes_minute: int
    interval_minutes: int
    seed: int
    login_spread_minutes: float
    break_spread_minutes: float
    queues: tuple[QueueSpec, ...]
    groups: tuple[AgentGroup, ...]
    surges: tuple[Surge, ...]

    @property
    def day_seconds(self) -> int:
        """Length of the scenario's day, opening to closing."""
        return (self.closes_minute - self.opens_minute) * 60

    @property
    def intervals(self) -> int:
        return (self.closes_minute - self.opens_minute) // self.interval_minutes

    @property
    def agent_count(self) -> int:
        return sum(group.count for group in self.groups)

    def default_start(self) -> float:
        """Epoch seconds of the opening time on the scenario's date, in its time zone."""
        local = datetime.combine(self.date, datetime.min.time(), ZoneInfo(self.timezone))
        return (local + timedelta(minutes=self.opens_minute)).timestamp()


def load_scenario(path: str | Path) -> Scenario:
    scenario_path = Path(path)
    try:
        with scenario_path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ScenarioError(
            f"scenario file {scenario_path} not found (see config/scenarios/)"
        ) from None
    except OSError as error:
        raise ScenarioError(
            f"cannot read scenario file {scenario_path}: {error.strerror}"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{scenario_path} is not valid TOML: {error}") from None
    return scenario_from_mapping(raw, source=str(scenario_path))


def scenario_from_mapping(raw: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a parsed scenario document (also used by tests to build scenarios in code)."""
    root = _Reader(raw, source, "")
    root.reject_unknown(("scenario", "queues", "agents", "surges"))
    head = root.table("scenario")
    timezone = head.string("timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise head.error("timezone", f"unknown time zone {timezone!r}") from None
    day_text = head.string("date", "2026-11-23")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise head.error("date", f"{day_text!r} is not a date like 2026-11-23") from None
    opens = head.clock("opens", "08:00")
    closes = head.clock("closes", "20:00")
    if closes <= opens:
        raise head.error("closes", "must be after 'opens' (the day may not cross midnight)")
    interval_minutes = head.integer("interval_minutes", 30)
    if (closes - opens) % interval_minutes:
        raise head.error(
            "interval_minutes",
            f"{interval_minutes} does not divide the opening hours ({closes - opens} minutes)",
        )
    seed = head.integer("seed", 1, minimum=0)
    login_spread = head.number("login_spread_minutes", 5.0)
    break_spread = head.number("break_spread_minutes", 30.0)
    head.reject_unknown(
        (
            "name",
            "description",
            "date",
            "timezone",
            "opens",
            "closes",
            "interval_minutes",
            "seed",
            "login_spread_minutes",
            "break_spread_minutes",
        )
    )
    name = head.string("name", Path(source).stem)
    head.string("description", "-")
    intervals = (closes - opens) // interval_minutes

    queues_reader = root.table("queues")
    queue_names = queues_reader.keys()
    if not queue_names:
        raise root.error("queues", "needs at least one queue, e.g. [queues.sales]")
    queues = tuple(
        _queue(queues_reader.table(queue_name), queue_name, intervals) for queue_name in queue_names
    )

    groups = tuple(
        _group(reader, set(queue_names), opens, closes) for reader in root.table_list("agents")
    )
    if not groups:
        raise root.error("agents", "needs at least one [[agents]] group")
    surges = tuple(
        _surge(reader, set(queue_names), opens, closes) for reader in root.table_list("surges")
    )
    return Scenario(
        name=name,
        source=source,
        date=day,
        timezone=timezone,
        opens_minute=opens,
        closes_minute=closes,
        interval_minutes=interval_minutes,
        seed=seed,
        login_spread_minutes=login_spread,
        break_spread_minutes=break_spread,
        queues=queues,
        groups=groups,
        surges=surges,
    )


def _queue(reader: _Reader, name: str, intervals: int) -> QueueSpec:
    if not _NAME.match(name):
        raise reader.error("", f"queue name {name!r} may use letters, digits, '_', '.', '-'")
    reader.reject_unknown(("volume", "talk", "hold", "acw", "patience"))
    volume = reader.number_list("volume")
    if len(volume) != intervals:
        raise reader.error(
            "volume",
            f"has {len(volume)} values but the day has {intervals} intervals "
            "(one value per interval from 'opens' to 'closes')",
        )
    patience = reader.raw.get("patience", "none")
    return QueueSpec(
        name=name,
        volume=tuple(volume),
        talk=_distribution(reader, "talk", required=True),
        hold=_distribution(reader, "hold", required=False),
        acw=_distribution(reader, "acw", required=False),
        patience=None if patience == "none" else _distribution(reader, "patience", required=True),
    )


def _distribution(reader: _Reader, key: str, required: bool) -> Distribution:
    if key not in reader.raw:
        if required:
            raise reader.error(key, "is missing, e.g. { distribution = 'exponential', mean = 60 }")
        return Distribution("fixed", 0.0)
    spec = reader.table(key)
    spec.reject_unknown(("distribution", "mean", "sd", "probability"))
    kind = spec.string("distribution", "exponential")
    if kind not in DISTRIBUTIONS:
        raise spec.error("distribution", f"{kind!r} is not one of {', '.join(DISTRIBUTIONS)}")
    mean = spec.number("mean", None)
    sd = spec.number("sd", 0.0)
    if kind in ("lognormal", "gamma") and (sd <= 0 or mean <= 0):
        raise spec.error("sd", f"a {kind} needs mean > 0 and sd > 0")
    if kind == "exponential" and mean <= 0:
        raise spec.error("mean", "an exponential needs mean > 0")
    probability = spec.number("probability", 1.0)
    if probability > 1:
        raise spec.error("probability", f"must be a fraction in [0, 1], got {probability!r}")
    return Distribution(kind, mean, sd, probability)


def _group(reader: _Reader, queue_names: set[str], opens: int, closes: int) -> AgentGroup:
    reader.reject_unknown(("team", "count", "queues", "shift", "breaks"))
    team = reader.string("team", "default")
    if not _NAME.match(team):
        raise reader.error("team", f"{team!r} may use letters, digits, '_', '.', '-'")
    count = reader.integer("count", None, minimum=1)
    queues = reader.string_list("queues")
    if not queues:
        raise reader.error("queues", "needs at least one queue the agents serve")
    for queue in queues:
        if queue not in queue_names:
            raise reader.error("queues", f"{queue!r} is not a queue of this scenario")
    shift = reader.string("shift", None)
    parts = shift.split("-")
    if len(parts) != 2:
        raise reader.error("shift", f"{shift!r} is not like '08:00-16:30'")
    start, end = (_clock_minutes(part.strip()) for part in parts)
    if start is None or end is None or not opens <= start < end <= closes:
        raise reader.error(
            "shift", f"{shift!r} must be 'HH:MM-HH:MM' inside the opening hours, start < end"
        )
    breaks = []
    for item in reader.table_list("breaks"):
        item.reject_unknown(("at", "minutes", "reason"))
        at = item.clock("at", None)
        if not start <= at < end:
            raise item.error("at", "must be inside the group's shift")
        breaks.append(
            BreakSpec(
                at, item.number("minutes", None, positive=True), item.string("reason", "break")
            )
        )
    return AgentGroup(team, count, tuple(queues), start, end, tuple(breaks))


def _surge(reader: _Reader, queue_names: set[str], opens: int, closes: int) -> Surge:
    reader.reject_unknown(("queue", "from", "to", "factor"))
    queue = reader.raw.get("queue")
    if queue is not None and queue not in queue_names:
        raise reader.error("queue", f"{queue!r} is not a queue of this scenario")
    start = reader.clock("from", None)
    end = reader.clock("to", None)
    if not opens <= start < end <= closes:
        raise reader.error("to", "the surge must lie inside the opening hours, 'from' < 'to'")
    return Surge(queue, start, end, reader.number("factor", None))


def _clock_minutes(text: str) -> int | None:
    match = _CLOCK.match(text)
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


class _Reader(TomlReader):
    error_type = ScenarioError

    def clock(self, key: str, default: str | None) -> int:
        value = self._get(key, default)
        minutes = _clock_minutes(value) if isinstance(value, str) else None
        if minutes is None:
            raise self.error(key, f"must be a clock time like '08:30', got {value!r}")
        return minutes
