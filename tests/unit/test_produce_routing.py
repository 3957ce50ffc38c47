"""`ccpulse produce`: which topic and key each line goes to, and which lines it refuses."""

from __future__ import annotations

import pytest

from streams.adapters.kafka_producer import Route, Unroutable, route_event

TOPICS = {"call.offered": "cc.call.offered", "agent.state": "cc.agent.state"}


def test_call_events_are_keyed_by_queue_and_agent_states_by_agent() -> None:
    offer = b'{"type": "call.offered", "queue": "sales", "call_id": "c1"}'
    assert route_event(offer, TOPICS) == Route("cc.call.offered", b"sales")
    state = b'{"type": "agent.state", "agent_id": "a1", "queues": ["sales"]}'
    assert route_event(state, TOPICS) == Route("cc.agent.state", b"a1")
    # Invalid but typed: sent, so the worker dead-letters it with the reason.
    assert route_event(b'{"type": "call.offered", "queue": 5}', TOPICS) == Route(
        "cc.call.offered", None
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json", "invalid_json"),
        (b"[1]", "invalid_json"),
        (b'{"event_id": "e1", "queue": "sales"}', "invalid_field"),
        (b'{"type": 5, "queue": "sales"}', "invalid_field"),
        (b'{"type": "call.teleported", "queue": "sales"}', "unknown_type"),
    ],
)
def test_lines_without_a_known_type_are_refused_with_the_worker_s_reason(
    line: bytes, reason: str
) -> None:
    refused = route_event(line, TOPICS)
    assert isinstance(refused, Unroutable)
    assert refused.reason == reason
