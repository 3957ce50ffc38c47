"""Where event times fall: buckets, WFM intervals and local days, as pure functions.

Intervals and days are aligned in the configured time zone on local wall-clock time, so they
stay right across DST changes (a local day may last 23 or 25 hours).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

_CACHE_LIMIT: Final = 200_000


class TimeGrid:
    def __init__(self, bucket_seconds: int, interval_minutes: int, timezone: str) -> None:
        self.bucket_seconds = bucket_seconds
        self.interval_minutes = interval_minutes
        self.zone = ZoneInfo(timezone)
        self._periods: dict[int, tuple[int, int]] = {}

    def bucket_of(self, ts: float) -> int:
        """Start of the bucket holding `ts`."""
        size = self.bucket_seconds
        return int(ts // size) * size

    def ceil_bucket(self, ts: float) -> int:
        """The first bucket boundary at or after `ts`."""
        size = self.bucket_seconds
        return math.ceil(ts / size) * size

    def periods_of_bucket(self, bucket: int) -> tuple[int, int]:
        """(start of the WFM interval, start of the local day) holding this bucket."""
        periods = self._periods.get(bucket)
        if periods is None:
            if len(self._periods) > _CACHE_LIMIT:
                self._periods.clear()
            periods = self._periods[bucket] = self._local_starts(bucket)
        return periods

    def interval_start(self, ts: float) -> int:
        return self.periods_of_bucket(self.bucket_of(ts))[0]

    def day_start(self, ts: float) -> int:
        return self.periods_of_bucket(self.bucket_of(ts))[1]

    def _local_starts(self, moment: int) -> tuple[int, int]:
        local = datetime.fromtimestamp(moment, self.zone)
        minutes = local.hour * 60 + local.minute
        floored = minutes - minutes % self.interval_minutes
        # replace() keeps `fold`, so in a repeated autumn hour the interval starts in the right
        # pass of that hour; midnight always takes its first occurrence.
        interval = local.replace(
            hour=floored // 60, minute=floored % 60, second=0, microsecond=0
        ).timestamp()
        day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0).timestamp()
        return min(int(interval), moment), min(int(day), moment)
