"""The engine's shortcuts give exactly what the plain computation gives: bucket starts without a
float floor division, and state mappings that are any MutableMapping, not only dicts (the
engine reads with `in` and `[]`, updates some values in place and always writes them back)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from streams.config import settings_from_mapping
from streams.kpi.decode import MAX_TS
from streams.kpi.engine import Engine, _bucket_start
from streams.kpi.state import EngineState
from streams.synthetic import call_cycle_events
from tests.unit.test_engine_incremental import event_stream

SIZES = (1, 2, 3, 5, 7, 10, 15, 30, 60, 300, 3600)


def near_multiples() -> st.SearchStrategy[tuple[float, int]]:
    """A multiple of the size as a float, or one of the floats next to it."""
    return st.tuples(
        st.integers(0, int(MAX_TS) // 3600), st.sampled_from(SIZES), st.integers(-2, 2)
    ).map(lambda drawn: (_nudge(float(drawn[0] * drawn[1]), drawn[2]), drawn[1]))


def _nudge(value: float, steps: int) -> float:
    for _ in range(abs(steps)):
        value = math.nextafter(value, math.inf if steps > 0 else 0.0)
    return value


@given(
    st.one_of(
        st.tuples(
            st.floats(0.0, MAX_TS, exclude_max=True, allow_nan=False), st.sampled_from(SIZES)
        ),
        near_multiples(),
    )
)
@example((1_795_000_009.999_999_9, 10))
@example((0.0, 10))
@example((5e-324, 10))
def test_bucket_start_is_the_floor_division(case: tuple[float, int]) -> None:
    ts, size = case
    assert _bucket_start(ts, size) == int(ts // size) * size


class JsonMapping(MutableMapping[str, Any]):
    """Keeps values as JSON bytes, as a changelog-backed table would: every read returns a
    new copy, so a change the engine does not write back is lost."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> Any:
        return orjson.loads(self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)


def _json_state() -> EngineState:
    return EngineState(**{name: JsonMapping() for name in EngineState.mapping_names()})


def _contents(state: EngineState) -> dict[str, bytes]:
    return {
        name: orjson.dumps(dict(getattr(state, name)), option=orjson.OPT_SORT_KEYS)
        for name in EngineState.mapping_names()
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_mutable_mapping_holds_the_same_state_as_dicts(seed: int) -> None:
    settings = settings_from_mapping({"bucket_seconds": 5})
    lines = event_stream(seed, 3000)
    lines += call_cycle_events(3000, queues=4, agents=12, calls_per_second=2)
    engines = [Engine(settings), Engine(settings, _json_state())]
    for start in range(0, len(lines), 250):
        batch = lines[start : start + 250]
        outcomes = [[o.status for o in engine.ingest_many(batch)] for engine in engines]
        assert outcomes[0] == outcomes[1]
    as_of = engines[0].live_as_of(engines[0].max_ts)
    assert engines[0].snapshot(as_of) == engines[1].snapshot(as_of)
    assert _contents(engines[0].state) == _contents(engines[1].state)


@pytest.mark.parametrize("ts", [math.nan, math.inf, -math.inf, -1.0, MAX_TS, "1e400"])
def test_a_scope_update_outside_the_event_time_range_is_rejected_and_changes_nothing(
    ts: Any,
) -> None:
    engine = Engine(settings_from_mapping({}))
    routed = engine.route_agent_state(
        orjson.dumps(
            {
                "type": "agent.state",
                "event_id": "e1",
                "ts": 1_795_000_000.0,
                "agent_id": "a1",
                "state": "available",
                "queues": ["sales"],
                "team": "t1",
            }
        )
    )
    updates = [update for _, update in routed.scope_updates]
    engine.apply_scope_updates(updates)
    before = engine.snapshot(1_795_000_010.0)
    bad = {**updates[0], "state": "on_call", "ts": ts, "event_id": "e2"}
    outcome = engine.apply_scope_update(bad)
    assert (outcome.status, outcome.reason) == ("rejected", "invalid_field")
    after = engine.snapshot(1_795_000_010.0)
    after["events"] = before["events"]
    assert after == before


def _sales_and_support_agent(start: float) -> Callable[[str, float, str], bytes]:
    """agent.state lines of agent a1 serving sales and support, `ts` seconds after `start`."""

    def agent_state(event_id: str, ts: float, state: str) -> bytes:
        event = {"type": "agent.state", "event_id": event_id, "ts": start + ts, "agent_id": "a1"}
        return orjson.dumps({**event, "state": state, "queues": ["sales", "support"]})

    return agent_state


def _dict_and_table_engines() -> list[Engine]:
    """A plain-dict engine and a table-backed one (no shared records), the reference."""
    return [Engine(settings_from_mapping({})), Engine(settings_from_mapping({}), _json_state())]


def test_scopes_an_agent_left_in_different_states_each_close_their_own_spell() -> None:
    """Replay applies an agent's state to all its scopes at once, sharing the transition while
    the scopes leave the same state; a scope update in between leaves one queue elsewhere. A
    table-backed engine (no shared records, each scope on its own) is the reference."""
    start = 1_795_000_000.0

    agent_state = _sales_and_support_agent(start)
    engines = _dict_and_table_engines()
    for engine in engines:
        engine.ingest_many([agent_state("e1", 0, "available"), agent_state("e2", 10, "on_call")])
        aside = {"scope": "q", "name": "support", "agent_id": "a1", "state": "not_ready"}
        assert engine.apply_scope_update({**aside, "ts": start + 20}).accepted
        engine.ingest_many([agent_state("e3", 30, "available"), agent_state("e4", 40, "on_call")])
    snapshots = [engine.snapshot(start + 60) for engine in engines]
    assert snapshots[0] == snapshots[1]
    for queue in ("sales", "support"):
        agents = snapshots[0]["queues"][queue]["agents"]
        assert (agents["staffed"], agents["on_call"], agents["not_ready"]) == (1, 1, 0)


def test_a_scope_whose_transition_has_no_spell_points_after_one_that_has_adds_none() -> None:
    """Sharing the transition between scopes: a scope whose change adds no spell point
    (on_call -> wrap_up, both busy) adds none after a scope whose change adds one (not_ready
    -> wrap_up starts a busy spell). A table-backed engine is the reference, as above."""
    start = 1_795_000_000.0

    agent_state = _sales_and_support_agent(start)
    engines = _dict_and_table_engines()
    for engine in engines:
        engine.ingest_many([agent_state("e1", 0, "available"), agent_state("e2", 10, "on_call")])
        aside = {"scope": "q", "name": "sales", "agent_id": "a1", "state": "not_ready"}
        assert engine.apply_scope_update({**aside, "ts": start + 20}).accepted
        assert engine.ingest(agent_state("e3", 30, "wrap_up")).accepted
    snapshots = [engine.snapshot(start + 60) for engine in engines]
    assert snapshots[0] == snapshots[1]
    # sales: idle 0-10, busy 10-20 and 30-60; support: idle 0-10, busy 10-60
    occupancy = {
        name: queue["windows"]["5m"]["occupancy"] for name, queue in snapshots[0]["queues"].items()
    }
    assert occupancy == {"sales": 0.8, "support": 50 / 60}


def test_an_agent_record_restored_into_a_dict_router_is_read_after_invalidate_caches() -> None:
    """Replay keeps each agent's router record with its route keys (no second lookup); a
    record put into the router from outside (restored tables) is read again once the caches
    are dropped, as invalidate_caches promises."""
    start = 1_795_000_000.0

    def agent_state(event_id: str, ts: float) -> bytes:
        event = {"type": "agent.state", "event_id": event_id, "ts": start + ts, "agent_id": "a1"}
        return orjson.dumps({**event, "state": "available", "queues": ["sales"]})

    engine = Engine(settings_from_mapping({}))
    outcomes = engine.ingest_many([agent_state("e1", 0), agent_state("e2", 10)])
    assert [outcome.status for outcome in outcomes] == ["accepted", "accepted"]
    restored = list(engine.state.router["a1"])
    restored[0] = start + 100  # another worker applied a later state before the restart
    engine.state.router["a1"] = restored
    engine.invalidate_caches()
    outcome = engine.ingest(agent_state("e3", 50))
    assert (outcome.status, outcome.reason) == ("rejected", "out_of_order")
    assert engine.ingest(agent_state("e4", 110)).accepted
    assert engine.state.router["a1"][0] == start + 110


def test_an_agent_changing_team_or_queues_is_routed_as_a_table_backed_engine_routes_it() -> None:
    """Replay leaves the router record and the route keys as they are while an agent's queues
    and team stay equal; any difference (the team, one queue, their order) is a new route. A
    table-backed engine (a record read back from JSON never equals the event's queues, so
    every event takes the full route) is the reference, after each event."""
    start = 1_795_000_000.0
    routes = [
        (["sales", "support"], "north", "available"),
        (["sales", "support"], "north", "on_call"),  # unchanged
        (["sales", "support"], "south", "wrap_up"),  # the team differs
        (["sales", "billing"], "south", "available"),  # one queue differs
        (["billing", "sales"], "south", "on_call"),  # the order differs
        (["billing", "sales"], "south", "on_call"),  # unchanged
        (["sales"], "north", "not_ready"),  # a queue fewer, the first team again
    ]
    engines = _dict_and_table_engines()
    for at, (queues, team, state) in enumerate(routes):
        ts = start + 10 * at
        event = {"type": "agent.state", "event_id": f"e{at}", "ts": ts, "agent_id": "a1"}
        line = orjson.dumps({**event, "state": state, "queues": queues, "team": team})
        for engine in engines:
            assert engine.ingest(line).accepted
            # The agent's record holds the event's queues and team (a tuple, or a list as JSON).
            record = orjson.loads(orjson.dumps(engine.state.router["a1"]))
            assert record == [ts, state, queues, team]
        snapshots = [engine.snapshot(ts + 5) for engine in engines]
        assert snapshots[0] == snapshots[1]
        assert _contents(engines[0].state) == _contents(engines[1].state)
    staffed = {name: queue["agents"]["staffed"] for name, queue in snapshots[0]["queues"].items()}
    assert staffed == {"sales": 1, "support": 0, "billing": 0}
    # north: idle 0-10, busy 10-20; south: busy 20-30, idle 30-40, busy 40-60
    teams = snapshots[0]["teams"]
    occupancy = {name: team["windows"]["5m"]["occupancy"] for name, team in teams.items()}
    assert occupancy == {"north": 0.5, "south": 0.75}


def test_an_id_stored_again_past_the_lateness_bound_is_kept_until_its_own_entry_expires() -> None:
    """Expiry deletes an id from a plain-dict `seen` without reading it first, except an id
    stored again over a forgotten entry (a redelivery past the lateness bound, in the same
    batch, before eviction ran): its older entry expires first and must leave the newer one.
    A table-backed engine (which always reads first) is the reference, after each batch."""
    start = 1_795_000_000.0

    def offered(event_id: str, ts: float, call_id: str) -> bytes:
        event = {"type": "call.offered", "event_id": event_id, "ts": start + ts}
        return orjson.dumps({**event, "call_id": call_id, "queue": "sales"})

    batches = [
        # X at 0, forgotten once `now` passes 300 (allowed_lateness_seconds), stored again
        [offered("X", 0, "c1"), offered("Y", 400, "c2"), offered("X", 401, "c3")],
        [offered("X", 402, "c4")],  # X's newer entry (401) is still inside the bound
        [offered("Z", 800, "c5")],  # X's newer entry expires
        [offered("X", 801, "c6"), offered("X", 802, "c7")],  # new again, then a duplicate
        [offered("W", 1200, "c8"), offered("X", 1203, "c9")],  # X stored again, late entry
    ]
    expected = [
        ["accepted"] * 3,
        ["duplicate"],
        ["accepted"],
        ["accepted", "duplicate"],
        ["accepted"] * 2,
    ]
    engines = _dict_and_table_engines()
    for batch, statuses in zip(batches, expected, strict=True):
        for engine in engines:
            assert [outcome.status for outcome in engine.ingest_many(batch)] == statuses
        assert _contents(engines[0].state) == _contents(engines[1].state)
    assert engines[0].state.seen == {"W": start + 1200, "X": start + 1203}
