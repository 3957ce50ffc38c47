"""The simulator's event stream: determinism, ordering, fields, routing, shifts and breaks."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli import main
from streams.config import Settings
from streams.kpi.decode import decode_event
from streams.kpi.events import Rejection
from streams.replay import replay_lines
from streams.simulator.badlines import BadLines
from streams.simulator.ledger import Ledger
from streams.simulator.model import Simulation
from streams.simulator.output import Pacer, write_lines
from streams.simulator.scenario import Scenario, load_scenario, scenario_from_mapping
from streams.simulator.timestamps import compressed_stamp, epoch_stamp, iso_stamp

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
START = datetime.fromisoformat("2026-11-23T08:00:00+00:00").timestamp()
HOUR = 3600.0


def small_scenario(**overrides: Any) -> Scenario:
    """Two queues, two teams, 08:00-12:00; `overrides` replace top-level tables."""
    raw: dict[str, Any] = {
        "scenario": {
            "opens": "08:00",
            "closes": "12:00",
            "interval_minutes": 30,
            "seed": 3,
            "login_spread_minutes": 2,
            "break_spread_minutes": 10,
        },
        "queues": {
            "sales": {
                "volume": [20, 30, 40, 40, 30, 30, 20, 20],
                "talk": {"distribution": "lognormal", "mean": 200, "sd": 100},
                "hold": {"distribution": "exponential", "mean": 30, "probability": 0.3},
                "acw": {"distribution": "gamma", "mean": 30, "sd": 10},
                "patience": {"distribution": "exponential", "mean": 90},
            },
            "care": {
                "volume": [10, 10, 20, 20, 20, 10, 10, 10],
                "talk": {"distribution": "exponential", "mean": 250},
                "acw": {"distribution": "fixed", "mean": 20},
                "patience": {"distribution": "exponential", "mean": 120},
            },
        },
        "agents": [
            {
                "team": "red",
                "count": 5,
                "queues": ["sales", "care"],
                "shift": "08:00-12:00",
                "breaks": [{"at": "10:00", "minutes": 15, "reason": "coffee"}],
            },
            {"team": "blue", "count": 3, "queues": ["sales"], "shift": "08:00-10:00"},
            {"team": "blue", "count": 2, "queues": ["care"], "shift": "09:00-12:00"},
        ],
    }
    raw.update(overrides)
    return scenario_from_mapping(raw, source="test")


def run(scenario: Scenario, seed: int | None = None, hours: float = 4.0, **kwargs: Any):
    ledger = Ledger()
    simulation = Simulation(scenario, START, seed=seed, ledger=ledger, **kwargs)
    events = list(simulation.events(START + hours * HOUR))
    return events, ledger


def as_lines(events: list) -> list[bytes]:
    return [orjson.dumps(event) for _, event in events]


def test_same_seed_same_events_other_seed_other_events() -> None:
    scenario = small_scenario()
    first, _ = run(scenario)
    again, _ = run(scenario)
    other, _ = run(scenario, seed=4)
    assert as_lines(first) == as_lines(again)
    assert as_lines(first) != as_lines(other)
    assert len(first) > 500


def test_events_are_in_time_order_with_unique_ids_and_decode_cleanly() -> None:
    events, _ = run(small_scenario())
    moments = [moment for moment, _ in events]
    assert moments == sorted(moments)
    ids = [event["event_id"] for _, event in events]
    assert len(set(ids)) == len(ids)
    for moment, event in events:
        decoded = decode_event(orjson.dumps(event))
        assert not isinstance(decoded, Rejection), (event, decoded)
        # ISO text with milliseconds reads back as exactly the simulated time.
        assert decoded.ts == moment / 1000


def test_call_fields_tell_a_consistent_story() -> None:
    events, _ = run(small_scenario())
    by_call: dict[str, dict[str, tuple[int, dict]]] = defaultdict(dict)
    for moment, event in events:
        if event["type"].startswith("call."):
            by_call[event["call_id"]][event["type"]] = (moment, event)
    outcomes = Counter()
    for story in by_call.values():
        offered_at, offered = story["call.offered"]
        if "call.answered" in story:
            answered_at, answered = story["call.answered"]
            assert "call.abandoned" not in story
            assert answered["wait_seconds"] == (answered_at - offered_at) / 1000 >= 0
            assert answered["queue"] == offered["queue"]
            if "call.wrapup" in story:
                wrapped_at, wrapup = story["call.wrapup"]
                handle = wrapup["talk_seconds"] + wrapup["hold_seconds"] + wrapup["acw_seconds"]
                assert wrapped_at - answered_at == pytest.approx(handle * 1000, abs=1e-6)
                assert wrapup["agent_id"] == answered["agent_id"]
            outcomes["answered"] += 1
        elif "call.abandoned" in story:
            abandoned_at, abandoned = story["call.abandoned"]
            assert abandoned["wait_seconds"] == (abandoned_at - offered_at) / 1000 > 0
            assert "call.wrapup" not in story
            outcomes["abandoned"] += 1
    assert outcomes["answered"] > 100 and outcomes["abandoned"] > 0


ALLOWED = {
    "logged_out": {"available", "on_call"},
    "available": {"on_call", "not_ready", "logged_out"},
    "on_call": {"wrap_up"},
    "wrap_up": {"available", "on_call", "not_ready", "logged_out"},
    "not_ready": {"available", "on_call", "logged_out"},
}


def test_agent_states_follow_the_call_cycle() -> None:
    events, _ = run(small_scenario())
    state: dict[str, str] = defaultdict(lambda: "logged_out")
    answered_at: dict[str, int] = {}
    reasons = Counter()
    for moment, event in events:
        if event["type"] == "call.answered":
            answered_at[event["agent_id"]] = moment
        if event["type"] != "agent.state":
            continue
        agent, new = event["agent_id"], event["state"]
        assert new in ALLOWED[state[agent]], (agent, state[agent], new)
        assert event["queues"] and event["team"] in ("red", "blue")
        if new == "on_call":
            assert answered_at.get(agent) == moment  # on_call exactly when a call is answered
        if new == "not_ready":
            reasons[event["reason"]] += 1
        else:
            assert "reason" not in event
        state[agent] = new
    assert reasons["coffee"] == 5  # every red agent takes the 10:00 break
    # blue sales agents work 08:00-10:00: all logged out by the end; others still on shift.
    for number in (1, 2, 3):
        assert state[f"blue-{number:03d}"] == "logged_out"
    assert all(state[f"red-{number:03d}"] != "logged_out" for number in range(1, 6))


def test_shift_end_waits_for_the_current_call_and_logins_follow_shifts() -> None:
    events, _ = run(small_scenario())
    logins = {}
    for moment, event in events:
        if event["type"] == "agent.state" and event["agent_id"] not in logins:
            logins[event["agent_id"]] = moment
    nine = START * 1000 + HOUR * 1000
    late_starters = [agent for agent in logins if agent in ("blue-004", "blue-005")]
    assert late_starters and all(nine <= logins[a] <= nine + 2 * 60_000 for a in late_starters)
    ten = START * 1000 + 2 * HOUR * 1000
    logouts = [
        (moment, event)
        for moment, event in events
        if event["type"] == "agent.state" and event["state"] == "logged_out"
    ]
    assert {event["agent_id"] for _, event in logouts} == {"blue-001", "blue-002", "blue-003"}
    for moment, event in logouts:
        assert moment >= ten
        if moment > ten:  # a late logout means the agent was finishing a call
            previous = [
                e["state"]
                for m, e in events
                if e["type"] == "agent.state" and e["agent_id"] == event["agent_id"] and m < moment
            ]
            assert previous[-1] == "wrap_up"


def test_routing_longest_idle_agent_and_fifo_per_queue() -> None:
    events, _ = run(small_scenario())
    state: dict[str, str] = {}
    idle_since: dict[str, int] = {}
    serves: dict[str, list[str]] = {}
    offered_at: dict[str, int] = {}
    answered_offers: dict[str, list[int]] = defaultdict(list)
    checked = 0
    for moment, event in events:
        kind = event["type"]
        if kind == "agent.state":
            agent = event["agent_id"]
            serves[agent] = event["queues"]
            if event["state"] == "available" and state.get(agent) != "available":
                idle_since[agent] = moment
            state[agent] = event["state"]
        elif kind == "call.offered":
            offered_at[event["call_id"]] = moment
        elif kind == "call.answered":
            queue = event["queue"]
            answered_offers[queue].append(offered_at[event["call_id"]])
            if event["wait_seconds"] == 0:
                idle = [
                    (idle_since[agent], agent)
                    for agent, current in state.items()
                    if current == "available" and queue in serves[agent]
                ]
                assert min(idle)[1] == event["agent_id"]
                checked += 1
    assert checked > 100
    for queue, offers in answered_offers.items():
        assert offers == sorted(offers), f"{queue} answered out of FIFO order"


def test_volumes_follow_the_profile_and_surges_multiply_them() -> None:
    flat = {
        "opens": "08:00",
        "closes": "12:00",
        "interval_minutes": 60,
        "seed": 11,
    }
    queues = {
        "q": {
            "volume": [400, 400, 400, 400],
            "talk": {"distribution": "exponential", "mean": 1},
            "patience": "none",
        }
    }
    agents = [{"count": 20, "queues": ["q"], "shift": "08:00-12:00"}]
    surge = [{"queue": "q", "from": "09:00", "to": "10:00", "factor": 3.0}]
    plain = scenario_from_mapping({"scenario": flat, "queues": queues, "agents": agents})
    surged = scenario_from_mapping(
        {"scenario": flat, "queues": queues, "agents": agents, "surges": surge}
    )
    for scenario, expected in ((plain, [400, 400, 400, 400]), (surged, [400, 1200, 400, 400])):
        _, ledger = run(scenario)
        per_hour = Counter(int((call.offered_ms / 1000 - START) // HOUR) for call in ledger.calls)
        for hour, mean in enumerate(expected):
            # Poisson counts: within 4 standard deviations (sqrt(mean)) of the volume.
            assert abs(per_hour[hour] - mean) < 4 * mean**0.5, (hour, per_hour[hour], mean)


def test_no_patience_means_no_abandons_and_empty_hours_mean_no_calls() -> None:
    scenario = small_scenario(
        queues={
            "q": {
                "volume": [0, 0, 30, 30, 0, 0, 0, 0],
                "talk": {"distribution": "fixed", "mean": 60},
                "patience": "none",
            }
        },
        agents=[{"count": 1, "queues": ["q"], "shift": "08:00-12:00"}],
    )
    events, ledger = run(scenario)
    assert not any(event["type"] == "call.abandoned" for _, event in events)
    offered = [call.offered_ms / 1000 - START for call in ledger.calls]
    assert offered and all(HOUR <= moment < 2 * HOUR for moment in offered)


def test_a_run_longer_than_the_day_repeats_it() -> None:
    scenario = small_scenario()
    events, ledger = run(scenario, hours=9)
    second_day = [call for call in ledger.calls if call.offered_ms / 1000 >= START + 4 * HOUR]
    assert len(second_day) > 100
    logins = Counter(
        event["agent_id"]
        for _, event in events
        if event["type"] == "agent.state"
        and event["state"] in ("available", "on_call")
        and event["agent_id"] == "blue-001"
    )
    assert logins["blue-001"] > 1
    # Every agent is back at work on day two.
    working = {
        event["agent_id"]
        for moment, event in events
        if event["type"] == "agent.state" and moment / 1000 >= START + 4.5 * HOUR
    }
    assert working >= {f"red-{n:03d}" for n in range(1, 6)}


def test_bad_lines_are_rejected_with_their_reason_and_leave_good_events_alone() -> None:
    scenario = small_scenario()
    simulation = Simulation(scenario, START)
    clean = io.BytesIO()
    write_lines(simulation.events(START + HOUR), clean, Pacer(0, None))
    ledger = Ledger()
    dirty = io.BytesIO()
    counts = write_lines(
        Simulation(scenario, START, ledger=ledger).events(START + HOUR),
        dirty,
        Pacer(0, None),
        BadLines(0.05, seed=1),
        ledger,
    )
    assert counts.bad_lines > 20
    dirty_lines = dirty.getvalue().splitlines()
    clean_lines = clean.getvalue().splitlines()
    assert len(dirty_lines) == len(clean_lines) + counts.bad_lines
    assert [line for line in dirty_lines if line in set(clean_lines)] == clean_lines
    result = replay_lines(dirty_lines, Settings())
    assert dict(result.rejected) == Counter(reason for _, reason in ledger.bad_lines)
    assert len(set(result.rejected)) == 3  # invalid_json, unknown_type, invalid_field


def test_time_stamp_forms() -> None:
    moment = round(START * 1000) + 12_468
    assert iso_stamp()(moment) == "2026-11-23T08:00:12.468Z"
    assert epoch_stamp()(moment) == moment / 1000
    start = round(START * 1000)
    squeezed = compressed_stamp(start, 60.0, epoch_stamp())
    assert squeezed(start + 3_600_000) == (start + 60_000) / 1000


def test_every_scenario_file_runs_an_hour_with_clean_events() -> None:
    for path in sorted(SCENARIOS.glob("*.toml")):
        scenario = load_scenario(path)
        if scenario.agent_count > 200:
            continue  # the benchmark's large centre: loading is checked in test_scenarios
        start = scenario.default_start()
        events = list(Simulation(scenario, start).events(start + HOUR))
        result = replay_lines(as_lines(events), Settings())
        assert not result.rejected, (path.name, result.rejected)
        assert result.snapshot["events"]["accepted"] == len(events) > 100


def test_cli_writes_events_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out, truth = tmp_path / "events.jsonl", tmp_path / "truth.json"
    code = main(
        [
            "simulate",
            "--scenario",
            str(SCENARIOS / "small_centre.toml"),
            "--out",
            str(out),
            "--duration",
            "2h",
            "--truth-at",
            "2026-11-23T10:30:00Z",
            "--truth-out",
            str(truth),
        ]
    )
    assert code == 0
    lines = out.read_bytes().splitlines()
    first = orjson.loads(lines[0])
    assert first["ts"].startswith("2026-11-23T09:0")  # the scenario's date and opening time
    snapshot = orjson.loads(truth.read_bytes())
    assert snapshot["as_of"] == "2026-11-23T10:30:00+00:00"
    assert set(snapshot["queues"]) == {"sales", "support"}
    assert "small_centre" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--truth-at", "2026-11-23T23:00:00Z", "--truth-out", "x"], "outside the simulated span"),
        (["--truth-at", "2026-11-23T10:00:00Z"], "--truth-at and --truth-out go together"),
        (["--start", "2026-11-23T10:00:00"], "has no UTC offset"),
        (["--duration", "eight hours"], "--duration 'eight hours'"),
        (["--speed", "0"], "--speed 0.0 must be a number above 0"),
        (["--bad-lines", "1.5"], "--bad-lines 1.5"),
        (["--timestamps", "compressed"], "--timestamps compressed needs --speed"),
    ],
)
def test_cli_rejects_bad_flags_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    scenario = str(SCENARIOS / "small_centre.toml")
    assert main(["simulate", "--scenario", scenario, "--duration", "1h", *argv]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_pacer_maps_simulated_time_to_the_wall_clock() -> None:
    pacer = Pacer(1_000_000, 60.0)
    assert 0.9 < pacer.delay(1_060_000) <= 1.0  # a simulated minute is a second at speed 60
    assert pacer.delay(1_000_000) <= 0
    assert Pacer(0, None).delay(10**12) == 0


def test_cli_same_seed_same_bytes(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b", "c"):
        path = tmp_path / f"{name}.jsonl"
        seed = "5" if name != "c" else "6"
        argv = ["simulate", "--scenario", str(SCENARIOS / "normal_day.toml"), "--seed", seed]
        argv += ["--duration", "90m", "--bad-lines", "0.02", "--out", str(path)]
        assert main(argv) == 0
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1] != outputs[2]
    assert b'"event_id":"s5-' in outputs[0]  # ids carry the seed (and the start)
