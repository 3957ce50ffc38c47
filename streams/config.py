"""Configuration: `config/ccpulse.toml` (DESIGN.md, "Configuration"), read with tomllib.

Every setting is validated on load; an error names the file, the key and what would be valid.
Connections and secrets are not here: they come from the environment (see `streams.env`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.errors import ConfigError
from streams.tomlreader import TomlReader

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "ccpulse.toml"
SERVICE_LEVEL_FORMULAS = ("offered", "answered", "removed")
# Every UTC offset in use is a whole number of quarter hours, so a bucket that divides 900 s
# keeps local midnights and WFM interval starts on bucket boundaries in any time zone.
_QUARTER_HOUR = 900
_DURATION = re.compile(r"^(\d+)([smh])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True, slots=True)
class QueueSettings:
    service_level_threshold_seconds: float = 20.0
    service_level_target: float = 0.80
    service_level_formula: str = "offered"
    short_abandon_seconds: float = 5.0
    aht_seconds: float = 360.0  # staffing fallback while a queue has handled nothing yet


@dataclass(frozen=True, slots=True)
class Topics:
    offered: str = "cc.call.offered"
    answered: str = "cc.call.answered"
    abandoned: str = "cc.call.abandoned"
    wrapup: str = "cc.call.wrapup"
    agent_state: str = "cc.agent.state"
    dead_letter: str = "cc.dead-letter"

    def by_event_type(self) -> dict[str, str]:
        """The topic each event `type` of DESIGN.md is produced to."""
        return {
            "call.offered": self.offered,
            "call.answered": self.answered,
            "call.abandoned": self.abandoned,
            "call.wrapup": self.wrapup,
            "agent.state": self.agent_state,
        }


@dataclass(frozen=True, slots=True)
class Settings:
    timezone: str = "UTC"
    windows: tuple[str, ...] = ("5m", "15m", "60m")
    interval_minutes: int = 30
    bucket_seconds: int = 10
    allowed_lateness_seconds: float = 300.0
    max_future_seconds: float = 60.0
    max_wait_seconds: float = 14400.0
    publish_interval_seconds: float = 1.0
    staffing_window: str = "30m"
    partitions: int = 4
    defaults: QueueSettings = field(default_factory=QueueSettings)
    queues: Mapping[str, QueueSettings] = field(default_factory=dict)
    topics: Topics = field(default_factory=Topics)
    source: str = "<defaults>"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def window_seconds(self) -> dict[str, int]:
        """Rolling windows by name, in seconds, in configured order."""
        return {name: parse_duration(name) for name in self.windows}

    @property
    def staffing_window_seconds(self) -> int:
        return parse_duration(self.staffing_window)

    def for_queue(self, queue: str) -> QueueSettings:
        return self.queues.get(queue, self.defaults)


def parse_duration(text: str) -> int:
    """`"15m"` -> 900. Raises ValueError for anything but `<digits><s|m|h>` above zero."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like '15m', '90s' or '2h'")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate a config file (default: the project's `config/ccpulse.toml`)."""
    config_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        with config_path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {config_path} not found (pass --config PATH)") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {config_path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_path} is not valid TOML: {error}") from None
    return settings_from_mapping(raw, source=str(config_path))


def settings_from_mapping(raw: Mapping[str, Any], source: str = "<config>") -> Settings:
    """Validate a parsed TOML document into Settings (also used by tests)."""
    reader = _Reader(raw, source, "")
    base = Settings()
    timezone = reader.string("timezone", base.timezone)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.error(
            "timezone", f"unknown time zone {timezone!r} (use e.g. 'Europe/Paris')"
        ) from None
    windows = reader.string_list("windows", list(base.windows))
    if not windows:
        raise reader.error("windows", "needs at least one rolling window, e.g. ['15m']")
    bucket_seconds = reader.integer("bucket_seconds", base.bucket_seconds)
    if _QUARTER_HOUR % bucket_seconds:
        raise reader.error(
            "bucket_seconds",
            f"{bucket_seconds} must divide 900 (a quarter hour), e.g. 5, 10, 15, 30 or 60",
        )
    for name in windows:
        try:
            seconds = parse_duration(name)
        except ValueError as error:
            raise reader.error("windows", str(error)) from None
        if name in ("interval", "today"):
            raise reader.error("windows", f"{name!r} is always present; list rolling windows only")
        if seconds % bucket_seconds:
            raise reader.error(
                "windows", f"{name!r} is not a whole number of buckets of {bucket_seconds} s"
            )
    if len({parse_duration(name) for name in windows}) != len(windows):
        raise reader.error("windows", "lists the same window length twice")
    interval_minutes = reader.integer("interval_minutes", base.interval_minutes)
    if 1440 % interval_minutes or (interval_minutes * 60) % bucket_seconds:
        raise reader.error(
            "interval_minutes", f"{interval_minutes} must divide a day (1440), e.g. 15, 30 or 60"
        )
    staffing_window = reader.string("staffing_window", base.staffing_window)
    try:
        if parse_duration(staffing_window) % bucket_seconds:
            raise ValueError(f"{staffing_window!r} is not a whole number of buckets")
    except ValueError as error:
        raise reader.error("staffing_window", str(error)) from None
    defaults = _queue_settings(reader.table("defaults"), QueueSettings())
    queues_reader = reader.table("queues")
    queues = {
        name: _queue_settings(queues_reader.table(name), defaults)
        for name in queues_reader.keys()  # noqa: SIM118 - _Reader, not a dict
    }
    topics_reader = reader.table("topics")
    topics = Topics(
        **{name: topics_reader.string(name, getattr(Topics(), name)) for name in Topics.__slots__}
    )
    topics_reader.reject_unknown(Topics.__slots__)
    settings = Settings(
        timezone=timezone,
        windows=tuple(windows),
        interval_minutes=interval_minutes,
        bucket_seconds=bucket_seconds,
        allowed_lateness_seconds=reader.number("allowed_lateness_seconds", 300.0),
        max_future_seconds=reader.number("max_future_seconds", 60.0),
        max_wait_seconds=reader.number("max_wait_seconds", 14400.0, positive=True),
        publish_interval_seconds=reader.number("publish_interval_seconds", 1.0, positive=True),
        staffing_window=staffing_window,
        partitions=reader.integer("partitions", base.partitions),
        defaults=defaults,
        queues=queues,
        topics=topics,
        source=source,
    )
    reader.reject_unknown(
        {*Settings.__dataclass_fields__} - {"source"} | {"defaults", "queues", "topics"}
    )
    return settings


def _queue_settings(reader: TomlReader, inherited: QueueSettings) -> QueueSettings:
    settings = QueueSettings(
        service_level_threshold_seconds=reader.number(
            "service_level_threshold_seconds", inherited.service_level_threshold_seconds
        ),
        service_level_target=reader.number(
            "service_level_target", inherited.service_level_target, positive=True
        ),
        service_level_formula=reader.string(
            "service_level_formula", inherited.service_level_formula
        ),
        short_abandon_seconds=reader.number(
            "short_abandon_seconds", inherited.short_abandon_seconds
        ),
        aht_seconds=reader.number("aht_seconds", inherited.aht_seconds, positive=True),
    )
    if settings.service_level_formula not in SERVICE_LEVEL_FORMULAS:
        raise reader.error(
            "service_level_formula",
            f"{settings.service_level_formula!r} is not one of {', '.join(SERVICE_LEVEL_FORMULAS)}",
        )
    if not 0 < settings.service_level_target <= 1:
        raise reader.error("service_level_target", "must be a fraction in (0, 1], e.g. 0.8")
    reader.reject_unknown(QueueSettings.__slots__)
    return settings


class _Reader(TomlReader):
    error_type = ConfigError
