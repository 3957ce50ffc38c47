"""Keeps a Kafka outage from flooding the worker's log.

While the broker is unreachable, aiokafka logs an error for every reconnect attempt, metadata
refresh, fetch and coordinator lookup: about 100 lines a second, which buries everything else
and fills disks. The worker rides the outage out (it reconnects and carries on, tested in
tests/integration/test_live_kafka_outage.py), so one line per kind of error is enough: the first
one passes, then at most one per `every` seconds, saying how many like it were held back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

# The loggers of the aiokafka modules that log per attempt while a broker is away: the client
# (connect and metadata; it logs as plain "aiokafka"), the fetcher, the group coordinator, the
# producer's sender and the connections.
KAFKA_CLIENT_LOGGERS = (
    "aiokafka",
    "aiokafka.conn",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.sender",
)


class RepeatedMessageFilter(logging.Filter):
    """Passes the first warning or error of each message template, then at most one per
    `every` seconds; the one that passes after a quiet stretch says how many were held back.
    Records below WARNING always pass. Memory is one entry per template (a fixed set of
    format strings in the library's source), not per message."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        # (logger name, template) -> [when one last passed, how many were held back since]
        self._runs: dict[tuple[str, str], list] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        run = self._runs.get(key)
        if run is not None and now - run[0] < self.every:
            run[1] += 1
            return False
        held_back = run[1] if run is not None else 0
        self._runs[key] = [now, 0]
        if held_back:
            message = record.getMessage()
            record.msg = f"{message} ({held_back} more like this in the last {self.every:g} s)"
            record.args = None
        return True


def throttle_repeated_messages(
    logger_names: Iterable[str] = KAFKA_CLIENT_LOGGERS, every: float = 60.0
) -> RepeatedMessageFilter:
    """Install one shared filter on each named logger (logger filters, so whatever handlers
    Faust sets up later still see only what passes). A logger that already has one keeps it:
    a command run twice in one process (tests, replay) must not stack filters."""
    shared = RepeatedMessageFilter(every)
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(each, RepeatedMessageFilter) for each in logger.filters):
            logger.addFilter(shared)
    return shared
