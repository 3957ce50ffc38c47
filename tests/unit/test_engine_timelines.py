"""Hand-computed timelines, one per metric definition of DESIGN.md.

Every expected value below is worked out by hand in the comments (not taken from
`tests/reference.py`). Each timeline runs against the engine (`streams.replay`) and against the
reference, so the reference is checked too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reference
from reference import EventFactory

from streams.config import Settings, settings_from_mapping

T = 1795424400.0  # 2026-11-23T09:00:00Z, a Monday
AT = T + 3600  # 10:00:00Z: a bucket, 5m/15m/60m and a 30-minute interval boundary
MIN = 60.0

Runner = Callable[..., dict[str, Any]]


def make_settings(**overrides: Any) -> Settings:
    raw: dict[str, Any] = {
        "timezone": "UTC",
        "windows": ["5m", "15m", "60m"],
        "interval_minutes": 30,
        "bucket_seconds": 10,
        "allowed_lateness_seconds": 300,
        "max_wait_seconds": 14400,
    }
    raw.update(overrides)
    return settings_from_mapping(raw)


def run_engine(
    lines: list[str], settings: Settings, at: float | None = None, as_of: float | None = None
) -> dict[str, Any]:
    if as_of is None:
        from streams.replay import replay_lines

        return replay_lines([line.encode() for line in lines], settings, at).snapshot
    from streams.kpi.engine import Engine, EngineState

    engine = Engine(settings, EngineState.in_memory())
    for line in lines:
        engine.ingest(line.encode(), now=None)
    return engine.snapshot(as_of)


def run_reference(
    lines: list[str], settings: Settings, at: float | None = None, as_of: float | None = None
) -> dict[str, Any]:
    if as_of is None:
        return reference.replay(lines, settings, at)[0]
    admission = reference.admit(lines, settings, None)
    return reference.snapshot(admission.accepted, settings, as_of, admission)


@pytest.fixture(params=["engine", "reference"])
def run(request: pytest.FixtureRequest) -> Runner:
    return run_engine if request.param == "engine" else run_reference


def check(actual: dict[str, Any], **expected: Any) -> None:
    """Subset comparison: ints exactly, floats to 1e-9, None exactly."""
    for key, value in expected.items():
        assert key in actual, f"{key} missing from {actual}"
        got = actual[key]
        if isinstance(value, float):
            assert type(got) is float and got == pytest.approx(value, abs=1e-9), (key, got)
        elif value is None:
            assert got is None, (key, got)
        else:
            assert type(got) is type(value) and got == value, (key, got)


def window(snapshot: dict[str, Any], queue: str, name: str) -> dict[str, Any]:
    return snapshot["queues"][queue]["windows"][name]


EMPTY_WINDOW = {
    "offered": 0,
    "answered": 0,
    "answered_within_threshold": 0,
    "abandoned": 0,
    "short_abandoned": 0,
    "abandoned_within_threshold": 0,
    "handled": 0,
    "service_level": None,
    "asa_seconds": None,
    "abandon_rate": None,
    "aht_seconds": None,
    "occupancy": None,
}


def test_window_edges_start_included_end_excluded(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.offered(T - 10, "c4"),  # 08:59:50: only today
        f.offered(T, "c3"),  # 09:00:00 = as_of - 60m: in 60m
        f.offered(AT - 15 * MIN - 10, "c2b"),  # 09:44:50: 60m only
        f.offered(AT - 5 * MIN - 10, "c2"),  # 09:54:50: 15m, not 5m
        f.offered(AT - 5 * MIN, "c1"),  # 09:55:00 = as_of - 5m: in 5m
        f.offered(AT, "c5"),  # 10:00:00 = at: ignored, not even counted
    ]
    snap = run(lines, make_settings(), at=AT)
    assert snap["as_of"] == "2026-11-23T10:00:00+00:00"
    check(window(snap, "sales", "5m"), offered=1)
    check(window(snap, "sales", "15m"), offered=2)
    check(window(snap, "sales", "60m"), offered=4)
    check(window(snap, "sales", "interval"), **EMPTY_WINDOW)  # as_of on a 30-min boundary
    check(window(snap, "sales", "today"), offered=5)
    assert list(snap["queues"]["sales"]["windows"]) == ["5m", "15m", "60m", "interval", "today"]
    assert snap["events"] == {"accepted": 5, "duplicates": 0, "rejected": {}}
    # every leg still waits; the oldest since 08:59:50
    check(snap["queues"]["sales"], calls_waiting=5, oldest_waiting_seconds=3610.0)


def test_event_at_as_of_is_not_in_the_snapshot(run: Runner) -> None:
    f = EventFactory()
    lines = [f.offered(AT - 0.5, "c1"), f.offered(AT, "c2")]
    try:
        snap = run(lines, make_settings(), as_of=AT)
    except ValueError:
        # The engine keeps no per-event history, so it may refuse a snapshot that would have
        # to take an applied event back out; it must never count that event.
        assert run is run_engine
        return
    check(window(snap, "sales", "5m"), offered=1)
    check(window(snap, "sales", "today"), offered=1)
    check(snap["queues"]["sales"], calls_waiting=1, oldest_waiting_seconds=0.5)


def test_interval_window_mid_interval(run: Runner) -> None:
    f = EventFactory()
    at = AT + 10 * MIN  # 10:10: interval = [10:00, 10:10)
    lines = [
        f.offered(AT - 10, "c1"),  # 09:59:50: previous interval
        f.offered(AT, "c2"),  # 10:00:00: first instant of the interval
        f.offered(AT + 5 * MIN, "c3"),  # 10:05:00 = as_of - 5m
    ]
    snap = run(lines, make_settings(), at=at)
    check(window(snap, "sales", "interval"), offered=2)
    check(window(snap, "sales", "5m"), offered=1)
    check(window(snap, "sales", "15m"), offered=3)


def test_default_as_of_is_next_bucket_strictly_after_newest(run: Runner) -> None:
    f = EventFactory()
    snap = run([f.offered(AT - 4.5, "c1")], make_settings())
    assert snap["as_of"] == "2026-11-23T10:00:00+00:00"
    snap = run([f.offered(AT - 4.5, "c1"), f.offered(AT, "c2")], make_settings())
    assert snap["as_of"] == "2026-11-23T10:00:10+00:00"
    check(window(snap, "sales", "5m"), offered=2)


def threshold_lines() -> list[str]:
    f = EventFactory()
    at = AT - 2 * MIN
    return [
        f.answered(at, "a", 20),  # == threshold 20: within
        f.answered(at + 1, "b", 20.5),  # above threshold
        f.answered(at + 2, "c", 0),  # within
        f.abandoned(at + 3, "d", 5),  # == short 5: NOT short; within threshold
        f.abandoned(at + 4, "e", 4.9),  # short; within threshold
        f.abandoned(at + 5, "f", 21),  # not short, not within
    ]


@pytest.mark.parametrize(
    ("formula", "service_level"),
    [
        ("offered", 2 / 5),  # within 2 / (answered 3 + abandoned 3 - short 1)
        ("answered", 2 / 3),  # within 2 / answered 3
        ("removed", 4 / 6),  # (answered within 2 + abandoned within 2) / (3 + 3)
    ],
)
def test_threshold_edges_and_service_level_formulas(
    run: Runner, formula: str, service_level: float
) -> None:
    settings = make_settings(
        defaults={
            "service_level_formula": formula,
            "service_level_threshold_seconds": 20,
            "short_abandon_seconds": 5,
        }
    )
    snap = run(threshold_lines(), settings, at=AT)
    check(
        window(snap, "sales", "5m"),
        offered=0,
        answered=3,
        answered_within_threshold=2,
        abandoned=3,
        short_abandoned=1,
        abandoned_within_threshold=2,
        handled=0,
        service_level=service_level,
        asa_seconds=(20 + 20.5 + 0) / 3,
        abandon_rate=2 / 5,  # (3 - 1) / (3 + 3 - 1)
        aht_seconds=None,
        occupancy=None,
    )


def test_per_queue_overrides(run: Runner) -> None:
    # vip: threshold 10, formula answered, short 0; sales keeps the defaults (20, offered, 5).
    settings = make_settings(
        queues={
            "vip": {
                "service_level_threshold_seconds": 10,
                "service_level_formula": "answered",
                "short_abandon_seconds": 0,
            }
        }
    )
    f = EventFactory()
    at = AT - MIN
    lines = []
    for queue in ("vip", "sales"):
        lines += [
            f.answered(at, "x", 10, queue=queue),
            f.answered(at, "y", 10.5, queue=queue),
            f.abandoned(at, "z", 0, queue=queue),
        ]
    snap = run(lines, settings, at=AT)
    # vip: within {10} = 1 of answered 2 -> 0.5; wait 0 < short 0 is false -> not short
    check(
        window(snap, "vip", "5m"),
        answered_within_threshold=1,
        short_abandoned=0,
        abandoned_within_threshold=1,
        service_level=0.5,
        abandon_rate=1 / 3,
    )
    # sales: within {10, 10.5} = 2 / (2 + 1 - 1 short) = 1.0; abandon rate 0 / 2
    check(
        window(snap, "sales", "5m"),
        answered_within_threshold=2,
        short_abandoned=1,
        service_level=1.0,
        abandon_rate=0.0,
    )


def test_nulls_on_empty_denominators(run: Runner) -> None:
    f = EventFactory()
    lines = [f.offered(AT - 60, "c1"), f.abandoned(AT - 50, "c2", 1)]  # one short abandon
    for formula, service_level in (("offered", None), ("answered", None), ("removed", 1.0)):
        settings = make_settings(defaults={"service_level_formula": formula})
        snap = run(lines, settings, at=AT)
        check(
            window(snap, "sales", "5m"),
            offered=1,
            abandoned=1,
            short_abandoned=1,
            service_level=service_level,  # removed: (0 + 1 within) / (0 + 1)
            asa_seconds=None,
            abandon_rate=None,  # (1 - 1) / (0 + 1 - 1)
            aht_seconds=None,
            occupancy=None,
        )


def test_aht_with_and_without_hold(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.wrapup(AT - 100, "c1", talk=100, hold=20, acw=30),  # 150
        f.wrapup(AT - 90, "c2", talk=200, acw=50),  # hold defaults to 0: 250
        f.wrapup(AT - 6 * MIN, "c3", talk=1000, acw=0),  # outside 5m, inside 15m
    ]
    snap = run(lines, make_settings(), at=AT)
    check(window(snap, "sales", "5m"), handled=2, aht_seconds=200.0)
    check(window(snap, "sales", "15m"), handled=3, aht_seconds=1400 / 3)


def test_occupancy_clipped_and_agents_in_several_queues(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.state(AT - 20 * MIN, "a2", "not_ready", ("sales", "support"), team="t2"),  # 09:40
        f.state(AT - 10 * MIN, "a1", "available", ("sales",), team="t1"),  # 09:50
        f.state(AT - 4 * MIN, "a2", "on_call", ("sales", "support"), team="t2"),  # 09:56, open
        f.state(AT - 3 * MIN, "a1", "on_call", ("sales",), team="t1"),  # 09:57
        f.state(AT - 2 * MIN, "a1", "wrap_up", ("sales",), team="t1"),  # 09:58
        f.state(AT - 1 * MIN, "a1", "available", ("sales",), team="t1"),  # 09:59
    ]
    snap = run(lines, make_settings(), at=AT)
    # 5m [09:55, 10:00): a1 idle 120 (clipped at 09:55) + 60, busy 60 + 60;
    # a2 busy 240 (open state counted up to as_of), not_ready counts in neither.
    check(window(snap, "sales", "5m"), occupancy=(120 + 240) / (120 + 240 + 180))
    check(window(snap, "support", "5m"), occupancy=1.0)
    # 15m [09:45, 10:00): a1 idle 420 + 60, busy 120; a2 busy 240
    check(window(snap, "sales", "15m"), occupancy=360 / 840)
    check(window(snap, "sales", "60m"), occupancy=360 / 840)
    check(window(snap, "sales", "interval"), occupancy=None)  # empty interval at 10:00
    assert snap["teams"]["t1"]["windows"]["5m"]["occupancy"] == pytest.approx(120 / 300)
    assert snap["teams"]["t1"]["windows"]["15m"]["occupancy"] == pytest.approx(120 / 600)
    assert snap["teams"]["t2"]["windows"]["5m"]["occupancy"] == pytest.approx(1.0)
    assert snap["teams"]["t2"]["windows"]["interval"]["occupancy"] is None
    assert set(snap["teams"]) == {"t1", "t2"}
    assert snap["queues"]["sales"]["agents"] == {
        "staffed": 2,
        "available": 1,
        "on_call": 1,
        "wrap_up": 0,
        "not_ready": 0,
    }
    assert snap["queues"]["support"]["agents"] == {
        "staffed": 1,
        "available": 0,
        "on_call": 1,
        "wrap_up": 0,
        "not_ready": 0,
    }
    check(window(snap, "support", "5m"), **{**EMPTY_WINDOW, "occupancy": 1.0})


def test_occupancy_of_a_state_opened_long_before_the_window(run: Runner) -> None:
    f = EventFactory()
    at = AT + 15 * MIN  # 10:15: interval [10:00, 10:15)
    lines = [
        f.state(T - 30 * MIN, "a3", "available"),  # 08:30, default team
        f.state(T + 50 * MIN, "a3", "on_call"),  # 09:50, still open at as_of
    ]
    snap = run(lines, make_settings(), at=at)
    # 60m [09:15, 10:15): idle 35 min, busy 25 min
    check(window(snap, "sales", "60m"), occupancy=25 / 60)
    check(window(snap, "sales", "interval"), occupancy=1.0)
    # today [00:00, 10:15): idle 08:30-09:50 = 80 min, busy 25 min
    check(window(snap, "sales", "today"), occupancy=25 / 105)
    assert snap["teams"]["default"]["windows"]["60m"]["occupancy"] == pytest.approx(25 / 60)


def test_logged_out_with_no_queues(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.state(AT - 10 * MIN, "a1", "available"),  # 09:50
        f.state(AT - 2 * MIN, "a1", "logged_out", ()),  # 09:58, empty queues allowed
    ]
    snap = run(lines, make_settings(), at=AT)
    check(window(snap, "sales", "5m"), occupancy=0.0)  # idle 180, busy 0
    assert snap["queues"]["sales"]["agents"]["staffed"] == 0
    assert snap["queues"]["sales"]["agents"]["available"] == 0
    assert snap["events"]["rejected"] == {}


def test_calls_waiting_and_oldest(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.offered(AT - 10 * MIN, "c1"),  # 09:50 still waiting
        f.offered(AT - 5 * MIN, "c2"),
        f.answered(AT - 4 * MIN, "c2", 60),
        f.offered(AT - 2 * MIN, "c3"),
        f.abandoned(AT - MIN, "c3", 60),
        f.offered(AT - 30, "c4"),  # still waiting
        f.offered(AT - 20, "c1", queue="support"),  # same call, another leg
        f.answered(AT - 10, "c1", 10, queue="support"),  # resolves only the support leg
    ]
    snap = run(lines, make_settings(), at=AT)
    check(snap["queues"]["sales"], calls_waiting=2, oldest_waiting_seconds=600.0)
    check(snap["queues"]["support"], calls_waiting=0, oldest_waiting_seconds=None)


def test_stale_waiting_calls_are_dropped(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.offered(AT - 610, "c2"),  # waited 610 > 600 at as_of: stale
        f.offered(AT - 600, "c1"),  # waited exactly 600: still counted
    ]
    snap = run(lines, make_settings(max_wait_seconds=600), at=AT)
    check(snap["queues"]["sales"], calls_waiting=1, oldest_waiting_seconds=600.0)
    check(window(snap, "sales", "15m"), offered=2)  # stale legs still count as offered


def test_answer_before_its_offer(run: Runner) -> None:
    f = EventFactory()
    lines = [f.answered(AT - 40, "c1", 20), f.offered(AT - 60, "c1")]
    snap = run(lines, make_settings(), at=AT)
    check(snap["queues"]["sales"], calls_waiting=0, oldest_waiting_seconds=None)
    check(window(snap, "sales", "5m"), offered=1, answered=1, service_level=1.0)
    assert snap["events"] == {"accepted": 2, "duplicates": 0, "rejected": {}}


def test_answer_stamped_before_its_offer_still_resolves_it(run: Runner) -> None:
    # Clocks of two systems disagree by 2 s: the answer carries an earlier ts than its offer.
    f = EventFactory()
    lines = [f.answered(AT - 62, "c1", 0), f.offered(AT - 60, "c1"), f.abandoned(AT - 40, "c2", 3)]
    lines.append(f.offered(AT - 41, "c2"))  # abandon first, offer 1 s later in event time
    snap = run(lines, make_settings(), at=AT)
    check(snap["queues"]["sales"], calls_waiting=0, oldest_waiting_seconds=None)
    check(window(snap, "sales", "5m"), offered=2, answered=1, abandoned=1, short_abandoned=1)


def test_an_answer_or_abandon_before_its_offer_leaves_the_other_waiting_calls(
    run: Runner,
) -> None:
    """A resolved leg that never waited takes nothing out of its queue's waiting calls."""
    f = EventFactory()
    lines = [
        f.offered(AT - 90, "c1"),  # waits to the end
        f.offered(AT - 80, "c2"),  # waits to the end
        f.answered(AT - 40, "c3", 20),  # no offer yet
        f.abandoned(AT - 35, "c4", 5),  # no offer yet
        f.offered(AT - 60, "c3"),  # absorbed: answered already
        f.offered(AT - 40, "c4"),  # absorbed: abandoned already
    ]
    snap = run(lines, make_settings(), at=AT)
    check(snap["queues"]["sales"], calls_waiting=2, oldest_waiting_seconds=90.0)
    check(window(snap, "sales", "5m"), offered=4, answered=1, abandoned=1)


def test_an_answer_after_its_offer_went_stale_keeps_the_leg_resolved(run: Runner) -> None:
    """An answer that comes after its offer waited longer than max_wait_seconds (stale, but
    not swept yet) still resolves the leg: the same offer redelivered later (another
    event_id, within the lateness bound) is absorbed, not a new waiting call. One event at a
    time, so the stale sweep runs between the answer and the second offer."""
    f = EventFactory()
    lines = [
        f.offered(AT - 120, "c1"),
        f.answered(AT - 19, "c1", 101),  # waited 101 s > 60 s
        f.offered(AT - 25, "c1"),  # redelivered by another source
    ]
    snap = run(lines, make_settings(max_wait_seconds=60), as_of=AT - 18)
    check(snap["queues"]["sales"], calls_waiting=0, oldest_waiting_seconds=None)
    check(window(snap, "sales", "5m"), offered=2, answered=1)


@pytest.mark.parametrize("second_offer_first", [True, False])
def test_a_leg_offered_twice_is_one_call_whatever_the_arrival_order(
    run: Runner, second_offer_first: bool
) -> None:
    """Two sources report the same offer (another event_id): one leg, answered once. The
    second report used to start a new waiting call when it arrived after the answer."""
    f = EventFactory()
    second = f.offered(AT - 60, "c1")
    lines = [f.offered(AT - 60, "c1"), f.answered(AT - 50, "c1", 10)]
    lines.insert(1 if second_offer_first else 2, second)
    snap = run(lines, make_settings(), at=AT)
    check(snap["queues"]["sales"], calls_waiting=0, oldest_waiting_seconds=None)
    check(window(snap, "sales", "5m"), offered=2, answered=1)


def test_duplicates_counted_once_and_forgotten_after_the_horizon(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.offered(AT - 600, "c1", event_id="X"),  # 09:50:00
        f.offered(AT - 600, "c1", event_id="X"),  # duplicate
        f.offered(AT - 300, "c2"),  # now 09:55:00: horizon 09:50:00
        f.offered(AT - 600, "c1", event_id="X"),  # original ts 09:50:00 >= horizon: duplicate
        f.offered(AT - 299.5, "c3"),  # now 09:55:00.5: X forgotten
        f.offered(AT - 600, "c1", event_id="X"),  # judged on its own: late
        f.line("call.offered", AT - 60, event_id="Y", call_id="c4"),  # no queue: rejected
        f.offered(AT - 60, "c4", event_id="Y"),  # rejected ids are not "seen": accepted
    ]
    snap = run(lines, make_settings(), at=AT)
    assert snap["events"] == {
        "accepted": 4,
        "duplicates": 2,
        "rejected": {"late": 1, "invalid_field": 1},
    }
    check(window(snap, "sales", "15m"), offered=4)
    check(snap["queues"]["sales"], calls_waiting=4, oldest_waiting_seconds=600.0)


def test_late_events(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.offered(AT - 60, "c1"),  # now 09:59:00, horizon 09:54:00
        f.offered(AT - 360.5, "c2"),  # 09:53:59.5 < horizon: late
        f.offered(AT - 360, "c3"),  # == horizon: accepted, does not move now back
        f.offered(AT - 361, "c4"),  # late
    ]
    snap = run(lines, make_settings(), at=AT)
    assert snap["events"] == {"accepted": 2, "duplicates": 0, "rejected": {"late": 2}}
    check(window(snap, "sales", "15m"), offered=2)


def test_out_of_order_agent_states(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.state(AT - 5 * MIN, "a1", "available"),  # 09:55
        f.state(AT - 6 * MIN, "a1", "on_call"),  # older than a1's latest: out_of_order
        f.state(AT - 6 * MIN, "a2", "available"),  # another agent: fine
        f.state(AT - 5 * MIN, "a1", "on_call"),  # same ts: accepted, later line wins
    ]
    snap = run(lines, make_settings(), at=AT)
    assert snap["events"] == {"accepted": 3, "duplicates": 0, "rejected": {"out_of_order": 1}}
    assert snap["queues"]["sales"]["agents"] == {
        "staffed": 2,
        "available": 1,
        "on_call": 1,
        "wrap_up": 0,
        "not_ready": 0,
    }
    # 5m: a1 busy 300 (available lasted 0 s), a2 idle 300
    check(window(snap, "sales", "5m"), occupancy=0.5)


def test_queue_and_team_sets(run: Runner) -> None:
    f = EventFactory()
    lines = [
        f.state(AT - 60, "a1", "available", ("sales", "billing"), team="north"),
        f.state(AT - 50, "a2", "logged_out", ()),  # default team, no queue
        f.offered(AT - 40, "c1", queue="vip"),
        f.offered(AT - 30, "c2", queue="ghost"),
    ]
    lines.append('{"type": "call.offered", "event_id": "z", "ts": 1, "call_id": "c"}')
    snap = run(lines, make_settings(), at=AT)
    assert set(snap["queues"]) == {"sales", "billing", "vip", "ghost"}
    assert set(snap["teams"]) == {"north", "default"}
    for queue in snap["queues"].values():
        for doc in queue["windows"].values():
            assert set(reference.WINDOW_FIELDS) <= set(doc)


# --- a worker restarted over its recovered tables ---------------------------------------------


def test_restart_keeps_the_replay_clock_for_lateness() -> None:
    """DESIGN: state lives in the mappings "so a restarted worker recovers it"; replay "now" is
    the newest accepted ts, which a new Engine over the same tables must still know."""
    from streams.kpi.engine import Engine, EngineState

    settings = make_settings(allowed_lateness_seconds=30)
    f = EventFactory()
    state = EngineState.in_memory()
    engine = Engine(settings, state)
    assert engine.ingest(f.offered(T + 800, "c1"), now=None).status == "accepted"
    assert engine.ingest(f.offered(T + 830, "c2"), now=None).status == "accepted"
    restarted = Engine(settings, state)
    outcome = restarted.ingest(f.offered(T, "c3"), now=None)  # 830 s behind the newest
    assert (outcome.status, outcome.reason) == ("rejected", "late")


def test_restart_keeps_live_as_of_after_applied_events() -> None:
    """live_as_of is "never before the newest accepted ts"; after a restart (or a rebalance)
    over the same tables, an event stamped up to max_future_seconds ahead of the wall clock
    must still be before as_of (otherwise it counts as waiting with a negative
    oldest_waiting_seconds)."""
    from streams.kpi.engine import Engine, EngineState

    settings = make_settings()
    f = EventFactory()
    state = EngineState.in_memory()
    engine = Engine(settings, state)
    assert engine.ingest(f.offered(T + 30, "c1"), now=T).status == "accepted"  # clock ahead
    restarted = Engine(settings, state)
    as_of = restarted.live_as_of(T + 1)
    assert as_of > T + 30
    waiting = restarted.snapshot(as_of)["queues"]["sales"]["oldest_waiting_seconds"]
    assert waiting is not None and waiting >= 0
