"""Live staffing end to end through `ccpulse replay`'s engine: the published Erlang C example
(100 calls in 30 min, AHT 180 s, 80 % in 20 s -> 14 agents) played as events."""

from __future__ import annotations

import orjson

from streams.config import settings_from_mapping
from streams.kpi.engine import Engine
from streams.replay import replay_lines

START = 1_795_000_000.0  # 2026-11-18T07:06:40Z, a multiple of 10 s
AS_OF = START + 1800


def published_example(productive: int, not_ready: int) -> list[bytes]:
    lines = []
    for agent in range(productive + not_ready):
        state = "available" if agent < productive else "not_ready"
        lines.append(
            {
                "type": "agent.state",
                "event_id": f"s{agent}",
                "ts": START,
                "agent_id": f"a{agent}",
                "state": state,
                "queues": ["sales"],
            }
        )
    for call in range(100):
        offered = START + call * 18  # 100 calls spread over the 30 minutes
        lines.append(
            {
                "type": "call.offered",
                "event_id": f"o{call}",
                "ts": offered,
                "call_id": f"c{call}",
                "queue": "sales",
            }
        )
        lines.append(
            {
                "type": "call.wrapup",
                "event_id": f"w{call}",
                "ts": offered + 1,
                "call_id": f"c{call}",
                "queue": "sales",
                "agent_id": "a0",
                "talk_seconds": 150,
                "hold_seconds": 10,
                "acw_seconds": 20,
            }
        )
    lines.sort(key=lambda line: line["ts"])
    return [orjson.dumps(line) for line in lines]


def test_published_erlang_c_example_as_live_staffing() -> None:
    settings = settings_from_mapping({"staffing_window": "30m"})
    snapshot = replay_lines(published_example(16, 3), settings, AS_OF).snapshot
    staffing = snapshot["queues"]["sales"]["staffing"]
    assert staffing["model"] == "erlang_c"
    assert staffing["aht_seconds"] == 180.0
    assert abs(staffing["traffic_erlangs"] - 10.0) < 1e-9
    assert staffing["required_agents"] == 14
    # not_ready agents are staffed but not productive
    assert snapshot["queues"]["sales"]["agents"]["staffed"] == 19
    assert staffing["productive_agents"] == 16
    assert staffing["gap"] == 2


def test_short_queue_has_negative_gap_and_fallback_aht_before_any_wrapup() -> None:
    settings = settings_from_mapping({"queues": {"sales": {"aht_seconds": 180}}})
    lines = [line for line in published_example(10, 0) if b"wrapup" not in line]
    staffing = replay_lines(lines, settings, AS_OF).snapshot["queues"]["sales"]["staffing"]
    assert staffing["aht_seconds"] == 180.0  # the configured fallback: nothing handled yet
    assert staffing["required_agents"] == 14
    assert staffing["gap"] == -4


def test_quiet_queue_needs_nobody() -> None:
    lines = [line for line in published_example(2, 0) if b"agent.state" in line]
    staffing = replay_lines(lines, settings_from_mapping({}), AS_OF).snapshot["queues"]["sales"][
        "staffing"
    ]
    assert staffing["required_agents"] == 0
    assert staffing["gap"] == 2


def test_a_live_engine_follows_each_change_of_the_staffing_inputs() -> None:
    """Snapshots of one engine reuse a queue's staffing while its window counts stay the same:
    a change of the handle seconds alone (one call left the window, another came) or of the
    productive agents alone must still show."""
    engine = Engine(settings_from_mapping({"staffing_window": "1m"}))

    def call(number: int, ts: float, talk: float) -> list[bytes]:
        offered = {"type": "call.offered", "event_id": f"o{number}", "ts": ts}
        wrapup = {
            "type": "call.wrapup",
            "event_id": f"w{number}",
            "ts": ts + 1,
            "agent_id": "a0",
            "talk_seconds": talk,
            "hold_seconds": 0,
            "acw_seconds": 0,
        }
        return [
            orjson.dumps({**event, "call_id": f"c{number}", "queue": "sales"})
            for event in (offered, wrapup)
        ]

    def staffing(as_of: float) -> dict:
        return engine.snapshot(as_of)["queues"]["sales"]["staffing"]

    assert all(outcome.accepted for outcome in engine.ingest_many(call(1, START, 100.0)))
    first = staffing(START + 10)
    assert (first["aht_seconds"], first["productive_agents"]) == (100.0, 0)
    assert all(outcome.accepted for outcome in engine.ingest_many(call(2, START + 65, 200.0)))
    second = staffing(START + 70)  # call 1 has left the 60 s window: same counts, 200 s
    assert second["aht_seconds"] == 200.0
    assert second["traffic_erlangs"] == 200.0 / 60
    state = {"type": "agent.state", "event_id": "s0", "ts": START + 71, "agent_id": "a0"}
    assert engine.ingest(
        orjson.dumps({**state, "state": "available", "queues": ["sales"]})
    ).accepted
    third = staffing(START + 72)
    assert (third["aht_seconds"], third["productive_agents"]) == (200.0, 1)
    assert third["gap"] == 1 - third["required_agents"]
