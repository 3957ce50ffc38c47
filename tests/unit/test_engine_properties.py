"""Property tests: the engine's replay equals the brute-force reference on random streams.

Streams mix calls (offer / answer / abandon / wrap-up, transfer legs), agent states, exact
duplicates and reused ids, disorder inside (and sometimes beyond) the lateness bound, bad lines,
epoch and ISO timestamps, around DST changes and local midnights in non-UTC zones, with random
valid configurations. Floats must agree to 1e-6; ints and nulls exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
import zlib
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reference

from streams.config import Settings, parse_duration, settings_from_mapping
from streams.kpi.engine import Engine, EngineState
from streams.replay import replay_lines

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("CCPULSE_HYPOTHESIS_PROFILE", "ci"))

QUEUES = ("sales", "vip", "support")
AGENTS = ("a1", "a2", "a3", "a4")
STATES = ("logged_out", "available", "on_call", "wrap_up", "not_ready")
WINDOW_CHOICES = ("45s", "90s", "1m", "2m", "5m", "15m", "30m", "60m")


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


# Moments worth straddling: DST changes (both directions, both zones) and local midnights.
ANCHORS = (
    ("Europe/Paris", utc(2026, 3, 29, 1)),  # 02:00 CET -> 03:00 CEST
    ("Europe/Paris", utc(2026, 10, 25, 1)),  # 03:00 CEST -> 02:00 CET
    ("Europe/Paris", utc(2026, 11, 22, 23)),  # local midnight
    ("America/New_York", utc(2026, 3, 8, 7)),  # 02:00 EST -> 03:00 EDT
    ("America/New_York", utc(2026, 11, 1, 6)),  # 02:00 EDT -> 01:00 EST
    ("America/New_York", utc(2026, 11, 23, 5)),  # local midnight
    ("Australia/Lord_Howe", utc(2026, 4, 4, 15)),  # 02:00 +11 -> 01:30 +10:30 (half hour)
    ("Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),  # 02:00 +10:30 -> 02:30 +11
    ("Asia/Kolkata", utc(2026, 11, 22, 18, 30)),  # local midnight at +05:30
    ("America/Santiago", utc(2026, 9, 6, 4)),  # 00:00 -> 01:00: no local midnight that day
    ("America/Santiago", utc(2026, 4, 5, 3)),  # 24:00 -> 23:00: the day's last hour twice
    ("UTC", utc(2026, 11, 23, 0)),
    ("UTC", utc(2026, 11, 23, 9, 30)),
)
OFFSETS = ("Z", "+00:00", "+02:00", "-05:00", "+05:30")
SPAN_STEPS = 480  # events on a grid of 480 steps of 5 s (40 min) or 45 s (6 h) around the anchor
BAD_LINES = (
    b"not json at all",
    b"[1, 2, 3]",
    b'"a string"',
    b"\xff\xfe garbage bytes",
    b'{"type": "call.teleported", "event_id": "b1", "ts": 0, "call_id": "x", "queue": "q"}',
    b'{"event_id": "b8", "ts": 0, "call_id": "x", "queue": "sales"}',
    b'{"type": 5, "event_id": "b9", "ts": 0, "call_id": "x", "queue": "sales"}',
    b'{"type": "call.offered", "ts": 0, "call_id": "x", "queue": "sales"}',
    b'{"type": "call.offered", "event_id": "b3", "call_id": "x", "queue": "sales"}',
    b'{"type": "call.offered", "event_id": "b4", "ts": "yesterday", "call_id": "x", '
    b'"queue": "sales"}',
    b'{"type": "call.offered", "event_id": "b5", "ts": "2026-11-23T09:00:00", "call_id": "x", '
    b'"queue": "sales"}',
    b'{"type": "call.offered", "event_id": "", "ts": 0, "call_id": "x", "queue": "sales"}',
    b'{"type": "call.offered", "event_id": "b6", "ts": 0, "call_id": "x", "queue": ""}',
    b'{"type": "call.offered", "event_id": "b7", "ts": true, "call_id": "x", "queue": "sales"}',
    b'{"type": "call.answered", "event_id": "b8", "ts": 0, "call_id": "x", "queue": "sales", '
    b'"agent_id": "a1", "wait_seconds": -1}',
    b'{"type": "call.answered", "event_id": "b9", "ts": 0, "call_id": "x", "queue": "sales", '
    b'"agent_id": "a1", "wait_seconds": true}',
    b'{"type": "call.abandoned", "event_id": "b10", "ts": 0, "call_id": "x", "queue": "sales", '
    b'"wait_seconds": "3"}',
    b'{"type": "call.wrapup", "event_id": "b11", "ts": 0, "call_id": "x", "queue": "sales", '
    b'"agent_id": "a1", "talk_seconds": 3}',
    b'{"type": "agent.state", "event_id": "b12", "ts": 0, "agent_id": "a1", '
    b'"state": "available", "queues": []}',
    b'{"type": "agent.state", "event_id": "b13", "ts": 0, "agent_id": "a1", '
    b'"state": "napping", "queues": ["sales"]}',
    b'{"type": "agent.state", "event_id": "b14", "ts": 0, "agent_id": "a1", '
    b'"state": "available", "queues": "sales"}',
)


@st.composite
def configs(draw: st.DrawFn, zone: str) -> Settings:
    bucket = draw(st.sampled_from((5, 10, 15, 30, 60)))
    choices = [name for name in WINDOW_CHOICES if parse_duration(name) % bucket == 0]
    windows = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))

    def rules() -> dict[str, Any]:
        return {
            "service_level_formula": draw(st.sampled_from(("offered", "answered", "removed"))),
            "service_level_threshold_seconds": draw(st.sampled_from((5, 10, 20))),
            "short_abandon_seconds": draw(st.sampled_from((0, 3, 5))),
        }

    raw = {
        "timezone": draw(st.sampled_from((zone, zone, "UTC"))),
        "windows": windows,
        "interval_minutes": draw(st.sampled_from((15, 30, 45, 60, 90, 120))),
        "bucket_seconds": bucket,
        "allowed_lateness_seconds": draw(st.sampled_from((30, 120, 300, 300, 3600, 86400))),
        "max_wait_seconds": draw(st.sampled_from((60, 300, 14400))),
        "defaults": rules(),
        "queues": {"vip": rules()},
    }
    return settings_from_mapping(raw, source="<hypothesis>")


def render_ts(ts: float, offset: str | None) -> float | str:
    if offset is None:
        return ts
    if offset == "Z":
        return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return datetime.fromtimestamp(ts, zone).isoformat()


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[bytes], Settings, float | None]:
    zone, anchor = draw(st.sampled_from(ANCHORS))
    config = draw(configs(zone))
    grid = draw(st.sampled_from((5, 5, 45)))
    base = anchor - SPAN_STEPS * grid / 2
    fraction = st.sampled_from((0.0, 0.0, 0.0, 0.5, 0.25, 0.1, 0.153, 0.7))

    def moment() -> float:
        return base + draw(st.integers(0, SPAN_STEPS)) * grid + draw(fraction)

    events: list[dict[str, Any]] = []  # each: body (with numeric ts) for one accepted candidate
    counter = iter(range(10**6))

    def add(kind: str, ts: float, **fields: Any) -> None:
        events.append({"type": kind, "event_id": f"e{next(counter)}", "ts": ts, **fields})

    legs = draw(
        st.lists(st.tuples(st.sampled_from(QUEUES), st.integers(0, 7)), max_size=14, unique=True)
    )
    waits = st.sampled_from((0, 2.5, 3, 4.99, 5, 9.5, 10, 15, 19.99, 20, 20.01, 20.5, 45, 90, 400))
    for queue, call in legs:
        call_id = f"c{call}"
        offered_at = moment()
        add("call.offered", offered_at, call_id=call_id, queue=queue)
        if draw(st.integers(0, 3)) == 0:
            # The same leg offered again (another event_id, as a second source would send
            # it), arriving before or after its answer: it still waits, or is answered, once.
            add("call.offered", offered_at, call_id=call_id, queue=queue)
        outcome = draw(st.sampled_from(("waiting", "answered", "abandoned")))
        if outcome == "waiting":
            continue
        wait = draw(waits)
        add(
            f"call.{outcome}",
            offered_at + wait,
            call_id=call_id,
            queue=queue,
            wait_seconds=wait,
            **({"agent_id": draw(st.sampled_from(AGENTS))} if outcome == "answered" else {}),
        )
        if outcome == "answered" and draw(st.booleans()):
            talk, acw = (
                draw(st.sampled_from((30, 95.5, 300.3))),
                draw(st.sampled_from((0, 20, 0.7))),
            )
            hold = draw(st.sampled_from((None, 0, 12)))
            fields: dict[str, Any] = {"talk_seconds": talk, "acw_seconds": acw}
            if hold is not None:
                fields["hold_seconds"] = hold
            add(
                "call.wrapup",
                offered_at + wait + talk + acw + (hold or 0),
                call_id=call_id,
                queue=queue,
                agent_id=draw(st.sampled_from(AGENTS)),
                **fields,
            )

    for agent in draw(st.lists(st.sampled_from(AGENTS), max_size=4, unique=True)):
        team = draw(st.sampled_from((None, "t1", "t2")))
        times = sorted(draw(st.lists(st.integers(0, SPAN_STEPS), min_size=1, max_size=8)))
        for step in times:
            state = draw(st.sampled_from(STATES))
            queues = draw(st.lists(st.sampled_from(QUEUES), min_size=1, max_size=3, unique=True))
            if state == "logged_out" and draw(st.booleans()):
                queues = []
            fields = {"agent_id": agent, "state": state, "queues": queues}
            if team is not None or draw(st.booleans()):
                fields["team"] = team or "default"
            if state == "not_ready" and draw(st.booleans()):
                fields["reason"] = "lunch"
            add("agent.state", base + step * grid + draw(fraction), **fields)

    if not events:
        add("call.offered", moment(), call_id="c0", queue="sales")

    # Arrival order: by ts plus a delay within the lateness bound, a few far beyond it.
    lateness = config.allowed_lateness_seconds

    def delay() -> float:
        if draw(st.integers(0, 9)) == 0:
            return lateness * draw(st.sampled_from((1.5, 4.0)))
        return draw(st.sampled_from((0.0, 0.0, 5.0, lateness / 2, lateness * 0.9)))

    keyed = [(event["ts"] + delay(), index, event) for index, event in enumerate(events)]
    keyed.sort(key=lambda item: (item[0], item[1]))
    ordered = [event for _, _, event in keyed]

    # Lateness edges: an event that moves now to exactly (an earlier event's ts + lateness),
    # then a repeat of that earlier event (still a duplicate), a new event exactly at the
    # horizon (accepted) and one just before it (late).
    for edge in range(draw(st.integers(0, 2))):
        position = draw(st.integers(1, len(ordered)))
        newest = max(item["ts"] for item in ordered[:position])
        candidates = [e for e in ordered[:position] if e["ts"] + lateness >= newest]
        if not candidates:
            continue
        source = draw(st.sampled_from(candidates))
        push = source["ts"] + lateness
        queue = draw(st.sampled_from(QUEUES))

        def fresh(ts: float, name: str, queue: str = queue, edge: int = edge) -> dict[str, Any]:
            return {
                "type": "call.offered",
                "event_id": f"{name}{edge}",
                "ts": ts,
                "call_id": f"{name}{edge}",
                "queue": queue,
            }

        ordered[position:position] = [
            fresh(push, "push"),
            copy.deepcopy(source),
            fresh(push - lateness, "edge"),
            fresh(push - lateness - 0.5, "behind"),
        ]

    # Exact duplicates, re-used ids on other events, and bad lines at random later positions.
    for _ in range(draw(st.integers(0, 4))):
        source = draw(st.integers(0, len(ordered) - 1))
        target = draw(st.integers(source + 1, len(ordered)))
        ordered.insert(target, copy.deepcopy(ordered[source]))
    if draw(st.integers(0, 3)) == 0 and len(ordered) >= 2:
        source = draw(st.integers(0, len(ordered) - 2))
        # A different event (its own new leg) re-using an earlier event's id.
        clash = {
            "type": "call.offered",
            "event_id": ordered[source]["event_id"],
            "ts": ordered[draw(st.integers(source + 1, len(ordered) - 1))]["ts"],
            "call_id": "clash",
            "queue": draw(st.sampled_from(QUEUES)),
        }
        ordered.insert(draw(st.integers(source + 1, len(ordered))), clash)

    lines: list[bytes] = []
    for item in ordered:
        offset = draw(st.sampled_from((None, None, *OFFSETS)))
        body = {**item, "ts": render_ts(item["ts"], offset)}
        lines.append(json.dumps(body).encode())
    for _ in range(draw(st.integers(0, 3))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(BAD_LINES)))

    at = None
    if draw(st.booleans()):
        step = config.bucket_seconds
        at = base + draw(st.integers(1, (SPAN_STEPS * grid + 600) // step)) * step
        # Sometimes long after the last event: open states and stale legs over quiet days.
        at += draw(st.sampled_from((0, 0, 0, 0, 86400, 3 * 86400 + 3600)))
    return lines, config, at


def describe(lines: list[bytes], config: Settings, at: float | None) -> None:
    note(f"settings: {config}")
    note(f"at: {at}")
    note("lines:\n" + "\n".join(line.decode("utf-8", "replace") for line in lines))


@given(scenarios())
def test_replay_matches_reference(scenario: tuple[list[bytes], Settings, float | None]) -> None:
    lines, config, at = scenario
    describe(lines, config, at)
    expected, admission = reference.replay(lines, config, at)
    result = replay_lines(lines, config, at)
    for reason in admission.rejected:
        event(f"rejected {reason}")
    event(f"duplicates: {min(admission.duplicates, 2)}")
    event(f"with --at: {at is not None}")
    queues = expected["queues"].values()
    event(f"calls waiting: {any(q['calls_waiting'] for q in queues)}")
    event(f"occupancy known: {any(q['windows']['today']['occupancy'] is not None for q in queues)}")
    problems = reference.differences(expected, result.snapshot)
    assert not problems, "\n".join(problems)
    assert result.rejected == {k: v for k, v in admission.rejected.items() if v}
    assert result.ignored_after_at == admission.ignored_after_at
    for reason, numbers in result.rejected_lines.items():
        assert numbers, reason
        assert list(numbers) == admission.rejected_lines[reason][: len(numbers)], reason
    check_stats(result.engine.stats, admission, config)


def check_stats(stats: Any, admission: reference.Admission, config: Settings) -> None:
    """Process counters behind the Prometheus `_total` families, over every accepted event."""
    accepted = admission.accepted
    assert stats.accepted == len(accepted)
    assert stats.duplicates == admission.duplicates
    assert dict(stats.rejected) == {k: v for k, v in admission.rejected.items() if v}
    by_type: dict[str, int] = {}
    for item in accepted:
        by_type[item.type] = by_type.get(item.type, 0) + 1
    assert {k: v for k, v in stats.by_type.items() if v} == by_type
    totals: dict[str, tuple[int, int, int, int]] = {}
    for queue in {item.get("queue") for item in accepted if item.type != "agent.state"}:
        calls = [item for item in accepted if item.get("queue") == queue]
        threshold = config.for_queue(queue).service_level_threshold_seconds
        answered = [item for item in calls if item.type == "call.answered"]
        totals[queue] = (
            sum(1 for item in calls if item.type == "call.offered"),
            len(answered),
            sum(1 for item in answered if item.get("wait_seconds") <= threshold),
            sum(1 for item in calls if item.type == "call.abandoned"),
        )
    got = {
        queue: (c.offered, c.answered, c.answered_within_threshold, c.abandoned)
        for queue, c in stats.calls.items()
        if (c.offered, c.answered, c.answered_within_threshold, c.abandoned) != (0, 0, 0, 0)
    }
    assert got == {queue: t for queue, t in totals.items() if t != (0, 0, 0, 0)}


@given(scenarios(), st.data())
def test_snapshots_while_streaming_match_reference(
    scenario: tuple[list[bytes], Settings, float | None], data: st.DataObject
) -> None:
    """Live-style: snapshots between ingests (later lines may still fall before them)."""
    lines, config, _ = scenario
    describe(lines, config, None)
    checkpoints = data.draw(
        st.lists(st.integers(1, len(lines)), min_size=1, max_size=4, unique=True), "checkpoints"
    )
    engine = Engine(config, EngineState.in_memory())
    for count, line in enumerate(lines, start=1):
        engine.ingest(line, now=None)
        if count not in checkpoints:
            continue
        admission = reference.admit(lines[:count], config, None)
        if not admission.accepted:
            continue
        later = data.draw(st.sampled_from((0, 0, 1, 7, 360)), "buckets after newest")
        as_of = reference.default_as_of(admission.accepted, config) + later * config.bucket_seconds
        if data.draw(st.booleans(), "between bucket boundaries"):
            # Live snapshots fall between boundaries; must still be after the newest event.
            newest = max(item.ts for item in admission.accepted)
            as_of = newest + data.draw(st.sampled_from((0.001, 0.25, 1.5, 7.0, 61.0)), "delta")
        expected = reference.snapshot(admission.accepted, config, as_of, admission)
        problems = reference.differences(expected, engine.snapshot(as_of))
        assert not problems, f"after line {count}, as_of {as_of}:\n" + "\n".join(problems)


@given(scenarios(), st.integers(1, 3))
def test_partitioned_workers_match_reference(
    scenario: tuple[list[bytes], Settings, float | None], workers: int
) -> None:
    """The live split: calls on their queue's worker, agent states admitted on the agent's
    worker and fanned out as scope updates to the queue/team workers (DESIGN "Data flow").

    Fed only the lines a single engine accepts, in that order (each worker's own "now" is then
    never ahead of the global one), every queue and team read from its owning worker must
    equal the reference.
    """
    lines, config, _ = scenario
    admission = reference.admit(lines, config, None)
    ids = [event.event_id for event in admission.accepted]
    accepted = [
        lines[event.line_no - 1] for event in admission.accepted if ids.count(event.event_id) == 1
    ]
    describe(accepted, config, None)
    if not accepted:
        return
    engines = [Engine(config, EngineState.in_memory()) for _ in range(workers)]

    def owner(key: str) -> Engine:
        return engines[zlib.crc32(key.encode()) % workers]

    for line in accepted:
        body = json.loads(line)
        if body["type"] == "agent.state":
            outcome = owner("agent:" + body["agent_id"]).route_agent_state(line, now=None)
            assert outcome.status == "accepted", outcome
            for key, payload in outcome.scope_updates:
                update = json.loads(json.dumps(payload))  # it crosses a Kafka topic
                # An update identical to the scope's current state may be reported as a
                # duplicate; the snapshots below are what must agree.
                status = owner(key).apply_scope_update(update, now=None).status
                assert status in ("accepted", "duplicate")
        else:
            assert owner(body["queue"]).ingest(line, now=None).status == "accepted"
    check = reference.admit(accepted, config, None)
    as_of = reference.default_as_of(check.accepted, config)
    expected = reference.snapshot(check.accepted, config, as_of, check)
    problems = []
    for queue, doc in expected["queues"].items():
        got = owner(queue).snapshot(as_of, queues=[queue], teams=[])["queues"].get(queue)
        problems += reference.differences(doc, got, f"$.queues.{queue}")
    for team, doc in expected["teams"].items():
        got = owner(team).snapshot(as_of, queues=[], teams=[team])["teams"].get(team)
        problems += reference.differences(doc, got, f"$.teams.{team}")
    assert not problems, "\n".join(problems)


class ChangelogTable(MutableMapping[str, Any]):
    """A stand-in for a changelog-backed Faust table: values are stored as JSON text, reads
    return fresh copies, so a change the engine does not write back with `table[key] = value`
    is lost, exactly as it would be after a restart."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.writes = 0

    def __getitem__(self, key: str) -> Any:
        return json.loads(self.rows[key])

    def __setitem__(self, key: str, value: Any) -> None:
        assert isinstance(key, str), key
        self.rows[key] = json.dumps(value, allow_nan=False)
        self.writes += 1

    def __delitem__(self, key: str) -> None:
        del self.rows[key]
        self.writes += 1

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.rows))

    def __len__(self) -> int:
        return len(self.rows)


@given(scenarios(), st.data())
def test_changelog_tables_match_reference(
    scenario: tuple[list[bytes], Settings, float | None], data: st.DataObject
) -> None:
    """State kept only through `table[key] = value` with JSON values, derived indexes rebuilt
    from the tables in the middle (as after a rebalance), and read-only snapshots."""
    lines, config, _ = scenario
    describe(lines, config, None)
    tables = {field.name: ChangelogTable() for field in dataclasses.fields(EngineState)}
    rebuild_after = data.draw(st.integers(0, len(lines)), "rebuild after line")
    engine = Engine(config, EngineState(**tables))
    for count, line in enumerate(lines, start=1):
        engine.ingest(line, now=None)
        if count == rebuild_after:
            engine.invalidate_caches()
    admission = reference.admit(lines, config, None)
    as_of = reference.default_as_of(admission.accepted, config)
    expected = reference.snapshot(admission.accepted, config, as_of, admission)
    writes = sum(table.writes for table in tables.values())
    got = engine.snapshot(as_of)
    assert sum(table.writes for table in tables.values()) == writes, "snapshot wrote state"
    problems = reference.differences(expected, got)
    assert not problems, f"rebuilt after line {rebuild_after}:\n" + "\n".join(problems)
