"""The filter that keeps a Kafka outage from flooding the worker's log."""

from __future__ import annotations

import logging

import pytest

from streams.live.log_throttle import RepeatedMessageFilter, throttle_repeated_messages


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, level: int = logging.ERROR, name: str = "aiokafka.client"):
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_first_of_a_kind_passes_repeats_are_held_back(clock: FakeClock) -> None:
    throttle = RepeatedMessageFilter(every=60, clock=clock)
    assert throttle.filter(record("Unable connect to node with id %s: %s", 1, "refused"))
    for attempt in range(200):
        clock.now += 0.1
        assert not throttle.filter(record("Unable connect to node with id %s: %s", 1, attempt))


def test_after_the_period_one_passes_with_the_count_held_back(clock: FakeClock) -> None:
    throttle = RepeatedMessageFilter(every=60, clock=clock)
    throttle.filter(record("Failed fetch messages from %s: %s", 1, "NodeNotReadyError"))
    for _ in range(5):
        clock.now += 10
        throttle.filter(record("Failed fetch messages from %s: %s", 1, "NodeNotReadyError"))
    clock.now += 10  # 60 s after the first one shown
    shown = record("Failed fetch messages from %s: %s", 1, "NodeNotReadyError")
    assert throttle.filter(shown)
    assert shown.getMessage() == (
        "Failed fetch messages from 1: NodeNotReadyError (5 more like this in the last 60 s)"
    )
    clock.now += 1
    assert not throttle.filter(record("Failed fetch messages from %s: %s", 1, "again"))


def test_a_message_after_a_quiet_spell_passes_unchanged(clock: FakeClock) -> None:
    throttle = RepeatedMessageFilter(every=60, clock=clock)
    throttle.filter(record("Unable to update metadata from %s", [1]))
    clock.now += 3600
    again = record("Unable to update metadata from %s", [1])
    assert throttle.filter(again)
    assert again.getMessage() == "Unable to update metadata from [1]"


def test_kinds_and_loggers_are_counted_apart_and_info_always_passes(clock: FakeClock) -> None:
    throttle = RepeatedMessageFilter(every=60, clock=clock)
    assert throttle.filter(record("Unable connect to node with id %s: %s", 1, "x"))
    assert throttle.filter(record("Group Coordinator Request failed: %s", "x"))
    assert throttle.filter(
        record("Unable connect to node with id %s: %s", 1, "x", name="aiokafka.conn")
    )
    assert not throttle.filter(record("Group Coordinator Request failed: %s", "y"))
    for _ in range(3):
        assert throttle.filter(record("Discovered coordinator %s", 1, level=logging.INFO))


def test_installed_on_the_kafka_client_loggers_it_filters_what_they_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    names = ("ccpulse-test.kafka-client",)
    shared = throttle_repeated_messages(names, every=60)
    logger = logging.getLogger(names[0])
    try:
        with caplog.at_level(logging.INFO, logger=names[0]):
            for _ in range(50):
                logger.error("Unable connect to node with id %s: %s", 1, "refused")
            logger.info("Discovered coordinator %s", 1)
        assert [r.getMessage() for r in caplog.records] == [
            "Unable connect to node with id 1: refused",
            "Discovered coordinator 1",
        ]
    finally:
        logger.removeFilter(shared)


def test_the_kafka_client_modules_that_log_per_attempt_are_covered() -> None:
    import aiokafka.client
    import aiokafka.conn
    import aiokafka.consumer.fetcher
    import aiokafka.consumer.group_coordinator
    import aiokafka.producer.sender

    shared = throttle_repeated_messages()
    modules = (
        aiokafka.client,
        aiokafka.conn,
        aiokafka.consumer.fetcher,
        aiokafka.consumer.group_coordinator,
        aiokafka.producer.sender,
    )
    try:
        for module in modules:
            assert shared in module.log.filters, module.__name__
    finally:
        for module in modules:
            module.log.removeFilter(shared)


def test_installing_twice_keeps_one_filter() -> None:
    """replay installs it on the engine's logger on every run; runs in one process (tests)
    must not stack filters."""
    names = ("ccpulse-test.installed-twice",)
    logger = logging.getLogger(names[0])
    try:
        throttle_repeated_messages(names)
        throttle_repeated_messages(names)
        assert sum(isinstance(each, RepeatedMessageFilter) for each in logger.filters) == 1
    finally:
        for each in list(logger.filters):
            logger.removeFilter(each)
