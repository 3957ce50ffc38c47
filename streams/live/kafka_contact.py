"""Whether the worker still hears from Kafka, and what it shows while it does not.

While the broker is unreachable the engine's state stands still, but a snapshot's `as_of` is
the wall clock: publishing on would present frozen figures as current (windows sliding over no
new calls, the oldest waiting call growing older). So after `silence_limit` seconds without
any answer from Kafka the worker stops publishing to Redis and exporting KPI gauges; wallboards
then see the last `as_of` age (`ccpulse top` marks it stale) and the worker's alerts take over.
Any answer counts: a healthy consumer's fetches return at least every FETCH_MAX_WAIT_MS even
with no new events, and it heartbeats every few seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class KafkaContact:
    def __init__(self, silence_limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.silence_limit = silence_limit
        self.clock = clock
        self.last_answer = clock()
        self._reported_cut_off = False

    def answered(self) -> None:
        """Kafka answered a request (called from the consumer's thread)."""
        self.last_answer = self.clock()

    def cut_off(self) -> bool:
        """True while Kafka has not answered for more than `silence_limit` seconds; logs the
        start and the end of each such spell once."""
        silent = self.clock() - self.last_answer
        cut_off = silent > self.silence_limit
        if cut_off and not self._reported_cut_off:
            log.warning(
                "no answer from Kafka for %.0f s: Redis publishes and KPI gauges paused, so "
                "nothing shows frozen figures as current; they resume when Kafka answers "
                "(limit: CCPULSE_KAFKA_SILENCE_SECONDS=%g)",
                silent,
                self.silence_limit,
            )
        elif self._reported_cut_off and not cut_off:
            log.warning("Kafka answers again: publishing resumed")
        self._reported_cut_off = cut_off
        return cut_off
