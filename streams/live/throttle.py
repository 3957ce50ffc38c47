"""When the worker may publish next: at most one publish per `publish_interval`, leading edge.

DESIGN.md: Redis writes are "coalesced to at most one write per queue per `publish_interval`".
Every publish writes every queue and team the worker owns (one snapshot, one `as_of`, one
`ccpulse:updates` message), so one throttle per worker bounds every queue's writes.

Leading edge, measured from the *start* of the previous publish: a publish may start as soon
as `interval` has passed since the previous one started. So

- the publish period is the interval itself, not the interval plus the time a publish takes
  (Faust's `app.timer` sleeps the interval *after* its callback returns, which stretched the
  period, and with it every event's coalescing wait, by the snapshot and Redis time);
- after a quiet spell (nothing to publish yet, e.g. before the first event or while the tables
  recover), the first change is published at once instead of at the next tick;
- two starts are never closer than `interval`, even when a wake-up comes late (the next one is
  due `interval` after the late start, not on a fixed grid).

Pure logic on a caller-supplied clock, so it is tested with a fake one.
"""

from __future__ import annotations

import math


class PublishThrottle:
    __slots__ = ("_previous_start", "interval", "last_start")

    def __init__(self, interval: float) -> None:
        if not interval > 0:
            raise ValueError(f"publish interval must be positive, got {interval!r}")
        self.interval = interval
        self.last_start = -math.inf
        self._previous_start = -math.inf

    def delay(self, now: float) -> float:
        """Seconds from `now` until a publish may start (0.0: it may start now)."""
        return max(0.0, self.last_start + self.interval - now)

    def try_start(self, now: float) -> bool:
        """Claim a publish starting at `now`: True if allowed (and recorded), else False."""
        if now < self.last_start + self.interval:
            return False
        self._previous_start, self.last_start = self.last_start, now
        return True

    def release(self) -> None:
        """The publish just claimed wrote nothing (nothing to publish yet): the next one may
        start as soon as the previous real one allows, i.e. at once."""
        self.last_start = self._previous_start
