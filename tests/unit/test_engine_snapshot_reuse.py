"""A snapshot reuses parts of the previous one where its inputs are the same (per-scope objects
kept by the engine): each must still be a new object the caller may change, and any change of
its inputs between snapshots must show."""

from __future__ import annotations

import math
import random
from typing import Any

import orjson

from streams.config import settings_from_mapping
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from streams.kpi.state import EngineState
from streams.live.table_state import PartitionCursor, TableStore
from tests.unit.test_engine_incremental import (
    SETTINGS,
    START,
    event_stream,
    fresh_snapshot,
    next_boundary,
)


def _scribble(value: Any) -> None:
    """Change every dict of a snapshot in place, as a careless caller might."""
    if isinstance(value, dict):
        for key in list(value):
            _scribble(value[key])
            value[key] = "changed"
        value["added"] = 1


def _event(kind: str, number: int, ts: float, prefix: str = "v", **fields: Any) -> bytes:
    return orjson.dumps({"type": kind, "event_id": f"{prefix}{number}", "ts": ts, **fields})


def _agent_state(number: int, ts: float, state: str) -> bytes:
    fields = {"agent_id": "a0", "state": state, "queues": ["sales", "support"], "team": "t0"}
    return _event("agent.state", number, ts, prefix="late", **fields)


def test_a_changed_snapshot_changes_no_later_one() -> None:
    lines = event_stream(3, 400)
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = engine.live_as_of(engine.max_ts)
    for second in range(4):  # steady snapshots: no event between them
        snapshot = engine.snapshot(as_of + second)
        assert snapshot == fresh_snapshot(lines, as_of + second)
        _scribble(snapshot)


def test_agent_counts_that_change_between_snapshots_show() -> None:
    lines = event_stream(4, 300)
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = engine.live_as_of(engine.max_ts)
    for number, state in enumerate(["on_call", "wrap_up", "available", "not_ready", "on_call"]):
        assert engine.snapshot(as_of) == fresh_snapshot(lines, as_of)
        line = _agent_state(number, as_of + 0.5, state)
        engine.process(decode_event(line))
        lines.append(line)
        as_of += 1
    assert engine.snapshot(as_of) == fresh_snapshot(lines, as_of)


def _call(number: int, ts: float, queue: str) -> bytes:
    return _event("call.offered", number, ts, prefix="call", call_id=f"x{number}", queue=queue)


def test_a_scope_s_agents_calls_and_windows_show_once_they_appear() -> None:
    # "sales" is known by an agent only, "lobby" by a call only, then each gets the other: the
    # views of the first snapshots had no agent counts, waiting calls or running totals.
    lines = [_agent_state(0, START + 1.0, "available"), _call(0, START + 2.0, "lobby")]
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = START + 5.0
    more = [
        _call(1, START + 6.0, "sales"),
        _event(
            "agent.state",
            0,
            START + 7.0,
            prefix="lobby",
            agent_id="a9",
            state="on_call",
            queues=["lobby"],
            team="t9",
        ),
        _call(2, START + 31.0, "sales"),
    ]
    for line in [b"", *more]:
        if line:
            engine.process(decode_event(line))
            lines.append(line)
        as_of = max(as_of + 1.0, engine.max_ts + 1.0)
        assert engine.snapshot(as_of) == fresh_snapshot(lines, as_of)
        wanted = engine.snapshot(as_of + 0.5, queues=["lobby"], teams=["t9"])
        full = fresh_snapshot(lines, as_of + 0.5)
        assert wanted["queues"] == {"lobby": full["queues"]["lobby"]}
        assert wanted["teams"] == {
            name: full["teams"][name] for name in full["teams"] if name == "t9"
        }


def _same_scopes(
    engine: Engine, lines: list[bytes], as_of: float, settings: Any = SETTINGS
) -> None:
    """The engine's snapshot at `as_of`, full and filtered, has the queues and teams of a
    fresh engine fed `lines` (not the events counters: a restarted engine's start at 0 again)."""
    fresh = Engine(settings)
    fresh.process_many([decode_event(line) for line in lines])
    expected = fresh.snapshot(as_of)
    got = engine.snapshot(as_of)
    assert (got["queues"], got["teams"]) == (expected["queues"], expected["teams"])
    queues, teams = sorted(expected["queues"])[::2], sorted(expected["teams"])[1::2]
    got = engine.snapshot(as_of, queues=[*queues, "nowhere"], teams=teams)
    assert got["queues"] == {name: expected["queues"][name] for name in queues}
    assert got["teams"] == {name: expected["teams"][name] for name in teams}


def test_views_over_table_mappings_after_recovery_and_restart_equal_a_fresh_engine() -> None:
    # The worker's mappings (not plain dicts); its derived indexes dropped by a recovery
    # (invalidate_caches) or a new engine over them (a restart): a view made over the
    # previous indexes must not be read, and the restarted engine applies events before its
    # first snapshot (running totals not built yet).
    lines = event_stream(21, 700)
    store = TableStore({}, {}, PartitionCursor())
    state = store.engine_state()
    engine = Engine(SETTINGS, state)
    rng = random.Random(21)
    fed, checked = 0, 0
    while fed < len(lines):
        batch = lines[fed : fed + rng.randint(5, 60)]
        fed += len(batch)
        engine.process_many([decode_event(line) for line in batch])
        store.drain()
        if engine.max_ts == -math.inf:
            continue
        as_of = next_boundary(engine) + rng.choice([0, 10, 30])
        _same_scopes(engine, lines[:fed], as_of)
        checked += 1
        if checked % 3 == 0:
            engine.invalidate_caches()
        elif checked % 3 == 1:
            now, max_ts = engine.now, engine.max_ts
            engine = Engine(SETTINGS, state)
            engine.now, engine.max_ts = now, max_ts  # a live worker passes the clock
    assert checked > 10


def test_waiting_calls_after_every_one_of_a_queue_expired_show() -> None:
    # The stale sweep empties the queue's waiting calls the first snapshot's view holds; calls
    # offered later must still be counted by that view.
    settings = settings_from_mapping({"windows": ["5m"], "max_wait_seconds": 120})
    lines: list[bytes] = []
    engine = Engine(settings)
    steps = [
        (_event("call.offered", 0, START + 1.0, call_id="x0", queue="sales"), START + 10.0),
        (_event("call.offered", 1, START + 2.0, call_id="x1", queue="sales"), START + 20.0),
        (_event("call.offered", 2, START + 300.0, call_id="y0", queue="support"), START + 301.0),
        (_event("call.offered", 3, START + 310.0, call_id="x2", queue="sales"), START + 311.0),
        (
            _event(
                "call.answered",
                4,
                START + 320.0,
                call_id="x2",
                queue="sales",
                agent_id="a1",
                wait_seconds=10,
            ),
            START + 321.0,
        ),
        (_event("call.offered", 5, START + 330.0, call_id="x3", queue="sales"), START + 331.0),
    ]
    for line, as_of in steps:
        assert engine.process(decode_event(line)).accepted
        lines.append(line)
        _same_scopes(engine, lines, as_of, settings)
    assert engine.snapshot(START + 340.0)["queues"]["sales"]["calls_waiting"] == 1


def test_each_agent_count_changing_alone_shows() -> None:
    # An agent logging in to one state and out again changes one count of its queues and team
    # at a time (the agents object of the previous snapshot is reused while none changes).
    lines = event_stream(5, 200)
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = engine.live_as_of(engine.max_ts)
    number = 0
    for state in ["available", "on_call", "wrap_up", "not_ready"]:
        for step in (state, "logged_out"):
            number += 1
            line = _event(
                "agent.state",
                number,
                as_of + 0.5,
                agent_id="solo",
                state=step,
                queues=["sales"],
                team="t1",
            )
            assert engine.process(decode_event(line)).accepted
            lines.append(line)
            as_of += 1
            _same_scopes(engine, lines, as_of)
            agents = engine.snapshot(as_of + 0.5)["queues"]["sales"]["agents"]
            assert agents == fresh_snapshot(lines, as_of + 0.5)["queues"]["sales"]["agents"]


def test_a_queue_and_a_team_of_one_name_and_scopes_known_after_a_filtered_snapshot() -> None:
    # A filtered snapshot first (of a queue not known yet); then "desk", a queue and a team
    # of the same name, appears: each has its own view.
    lines = event_stream(6, 150)
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = engine.live_as_of(engine.max_ts)
    assert engine.snapshot(as_of, queues=["desk"], teams=[])["queues"] == {}
    more = [
        _event("call.offered", 1, as_of + 1.0, call_id="d1", queue="desk"),
        _event(
            "agent.state",
            2,
            as_of + 2.0,
            agent_id="clerk",
            state="on_call",
            queues=["desk"],
            team="desk",
        ),
        _event(
            "call.answered",
            3,
            as_of + 3.0,
            call_id="d1",
            queue="desk",
            agent_id="clerk",
            wait_seconds=2,
        ),
        _event(
            "agent.state",
            4,
            as_of + 14.0,
            agent_id="clerk",
            state="available",
            queues=["desk", "sales"],
            team="desk",
        ),
        # The team's occupancy is no longer the queue's.
        _event(
            "agent.state",
            5,
            as_of + 15.0,
            agent_id="porter",
            state="on_call",
            queues=["sales"],
            team="desk",
        ),
    ]
    for line in more:
        assert engine.process(decode_event(line)).accepted
        lines.append(line)
        as_of = engine.max_ts + 1.0
        wanted = engine.snapshot(as_of, queues=["desk"], teams=["desk"])
        full = fresh_snapshot(lines, as_of)
        assert wanted["queues"] == {"desk": full["queues"]["desk"]}
        # The team's figures are those of a team of its own name ("bench"), also in a fresh
        # engine (which would share one view between the two "desk"s as well).
        renamed = [line.replace(b'"team":"desk"', b'"team":"bench"') for line in lines]
        teams = fresh_snapshot(renamed, as_of)["teams"]
        assert wanted["teams"] == ({"desk": teams["bench"]} if "bench" in teams else {})
        _same_scopes(engine, lines, as_of + 0.5)


def test_snapshots_moving_between_intervals_and_days_read_their_own_tallies() -> None:
    # No event between the snapshots: only the interval and day a view reads change, forward
    # and back again (any as_of after the newest event may be asked for).
    lines = event_stream(8, 300)
    engine = Engine(SETTINGS)
    engine.process_many([decode_event(line) for line in lines])
    as_of = engine.live_as_of(engine.max_ts)
    for later in (0, 900, 0, 86_400, 60, 86_400 + 900, 30):
        _same_scopes(engine, lines, as_of + later)


def _restarted_then_fed(first: list[bytes], then: list[bytes], as_of: float) -> None:
    """An engine restarted over the state of `first` snapshots at `as_of`, is fed `then` one
    event at a time with a snapshot after each: each equals a fresh engine's."""
    state = EngineState.in_memory()
    Engine(SETTINGS, state).process_many([decode_event(line) for line in first])
    restarted = Engine(SETTINGS, state)
    lines = list(first)
    _same_scopes(restarted, lines, as_of)
    for line in then:
        assert restarted.process(decode_event(line)).accepted
        lines.append(line)
        _same_scopes(restarted, lines, restarted.max_ts + 1.0)


def _login(number: int, ts: float, agent: str, state: str, queue: str, team: str) -> bytes:
    return _event("agent.state", number, ts, agent_id=agent, state=state, queues=[queue], team=team)


def test_agent_counts_of_a_restored_scope_without_agents_show_once_one_logs_in() -> None:
    # Restored after the only agent of "lobby" and "tq" moved to another queue and team (its
    # records there absent: no agent counts), with their running totals and a waiting call:
    # the first snapshot's views hold those; the counts made by the next login must show.
    first = [
        _event("call.offered", 1, START + 1.0, call_id="x1", queue="lobby"),
        _login(2, START + 2.0, "a1", "available", "lobby", "tq"),
        _login(3, START + 3.0, "a1", "available", "other", "tr"),
    ]
    _restarted_then_fed(
        first,
        [
            _login(4, START + 11.0, "a1", "available", "lobby", "tq"),
            _login(5, START + 12.0, "a1", "on_call", "lobby", "tq"),
        ],
        START + 10.0,
    )


def test_running_totals_of_a_restored_scope_without_buckets_show_once_it_has_one() -> None:
    # Restored when "late"'s buckets have left every window (no running totals), with its
    # agent counts and a waiting call: the running totals its next call makes must be found.
    first = [
        _event("call.offered", 1, START + 1.0, call_id="x1", queue="late"),
        _login(2, START + 2.0, "b1", "not_ready", "late", "tl"),
        _event("call.offered", 3, START + 2000.0, call_id="y1", queue="busy"),
    ]
    _restarted_then_fed(
        first,
        [
            _event("call.offered", 4, START + 2010.0, call_id="x2", queue="late"),
            _login(5, START + 2020.0, "b1", "available", "late", "tl"),
        ],
        START + 2005.0,
    )
