"""When the worker counts as cut off from Kafka (and says so once per spell)."""

from __future__ import annotations

import logging

import pytest

from streams.live.kafka_contact import KafkaContact


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_cut_off_only_after_the_silence_limit_and_back_on_the_next_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    contact = KafkaContact(10.0, clock)
    with caplog.at_level(logging.WARNING, logger="streams.live.kafka_contact"):
        clock.now += 10.0
        assert not contact.cut_off()  # exactly the limit: not yet
        clock.now += 0.5
        assert contact.cut_off()
        clock.now += 30
        assert contact.cut_off()
        contact.answered()
        assert not contact.cut_off()
        clock.now += 9
        assert not contact.cut_off()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages  # one line when it starts, one when it ends
    assert "no answer from Kafka for 10 s" in messages[0]
    assert "CCPULSE_KAFKA_SILENCE_SECONDS=10" in messages[0]
    assert "publishing resumed" in messages[1]


def test_answers_keep_it_in_contact() -> None:
    clock = FakeClock()
    contact = KafkaContact(2.0, clock)
    for _ in range(100):
        clock.now += 0.1
        contact.answered()
        assert not contact.cut_off()
