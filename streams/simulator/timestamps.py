"""How an event's `ts` is written, from the simulator's whole-millisecond clock.

ISO text with milliseconds and `Z` parses back (datetime.fromisoformat(...).timestamp()) to the
same float as `ms / 1000`, so both forms carry the exact simulated time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Stamp = Callable[[int], str | float]


def iso_stamp() -> Stamp:
    """`2026-11-23T09:00:12.468Z`; the date-and-minute prefix is cached (events are in order,
    so it changes at most once a simulated minute)."""
    cached_minute = -1
    prefix = ""

    def stamp(moment: int) -> str:
        nonlocal cached_minute, prefix
        minute, rest = divmod(moment, 60_000)
        if minute != cached_minute:
            cached_minute = minute
            prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
        seconds, millis = divmod(rest, 1000)
        return f"{prefix}{seconds:02d}.{millis:03d}Z"

    return stamp


def epoch_stamp() -> Stamp:
    """Epoch seconds as a number."""
    return lambda moment: moment / 1000


def compressed_stamp(start_ms: int, speed: float, inner: Stamp) -> Stamp:
    """Time stamps that follow the wall clock of an accelerated run: simulated time `t` is
    written as `start + (t - start) / speed`. Only durations carried in fields (wait, talk,
    hold, after-call work) stay in simulated seconds; see `ccpulse simulate --help`."""

    def stamp(moment: int) -> str | float:
        return inner(start_ms + round((moment - start_ms) / speed))

    return stamp
