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
_LONGEST_SHIFT: Final = 2 * 3600


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
        day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0).timestamp()
        return min(self._interval_start(moment), moment), min(int(day), moment)

    def _interval_start(self, moment: int) -> int:
        """The latest interval boundary at or before `moment`. A boundary is an instant at
        which the local clock shows a multiple of `interval_minutes` since midnight (each time
        it does: a repeated autumn hour has intervals of its own) or jumps forward past one (a
        spring gap). One rule for every instant keeps interval starts rising with time, also
        when an interval is longer than the DST shift."""
        step = self.interval_minutes * 60
        # The latest boundary lies within one interval plus the largest DST shift (2 h).
        earliest = moment - step - _LONGEST_SHIFT
        offset_now = self._offset(moment)
        boundary = moment - (moment + offset_now) % step
        offset_before = self._offset(earliest)
        if offset_before == offset_now:
            return boundary  # no clock change in reach (DST changes are months apart)
        change = self._change_after(earliest, moment, offset_before)
        if boundary >= change:
            return boundary
        if offset_now > offset_before:  # a spring gap: did the clock jump past a boundary?
            jumped_from = change + offset_before  # the local reading it jumped from
            if (jumped_from + step - 1) // step * step <= change + offset_now:
                return change
        last_before = change - 1
        return last_before - (last_before + offset_before) % step

    def _offset(self, moment: int) -> int:
        offset = datetime.fromtimestamp(moment, self.zone).utcoffset()
        return 0 if offset is None else int(offset.total_seconds())

    def _change_after(self, start: int, end: int, offset_at_start: int) -> int:
        """The first instant in (start, end] whose UTC offset differs from `offset_at_start`."""
        while end - start > 1:
            middle = (start + end) // 2
            if self._offset(middle) == offset_at_start:
                start = middle
            else:
                end = middle
        return end
