"""Every rejection reason of DESIGN.md ("Rejected input"), from real bytes through Engine.ingest.

Each table row also runs through the reference decoder, so the two validators are pinned to
the same contract. Valid controls show that each template is accepted before it is broken.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reference

from streams.config import settings_from_mapping
from streams.kpi.engine import Engine, EngineState

T = 1795424400.0  # 2026-11-23T09:00:00Z

VALID: dict[str, dict[str, Any]] = {
    "call.offered": {"call_id": "c1", "queue": "sales"},
    "call.answered": {"call_id": "c1", "queue": "sales", "agent_id": "a1", "wait_seconds": 12.5},
    "call.abandoned": {"call_id": "c1", "queue": "sales", "wait_seconds": 3},
    "call.wrapup": {
        "call_id": "c1",
        "queue": "sales",
        "agent_id": "a1",
        "talk_seconds": 200,
        "hold_seconds": 10,
        "acw_seconds": 30,
    },
    "agent.state": {"agent_id": "a1", "state": "available", "queues": ["sales"], "team": "t1"},
}
REQUIRED = reference.REQUIRED_FIELDS


def body(kind: str, **changes: Any) -> dict[str, Any]:
    doc = {"type": kind, "event_id": "e1", "ts": T, **VALID[kind]}
    doc.update(changes)
    return doc


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def without(kind: str, field: str) -> bytes:
    doc = body(kind)
    del doc[field]
    return encode(doc)


def fresh_engine(**overrides: Any) -> Engine:
    return Engine(settings_from_mapping(overrides), EngineState.in_memory())


def reference_reason(raw: bytes) -> str | None:
    try:
        reference.decode(raw)
    except reference.Rejected as error:
        return error.reason
    return None


@pytest.mark.parametrize("kind", sorted(VALID))
@pytest.mark.parametrize("ts", [T, int(T), "2026-11-23T09:00:00Z", "2026-11-23T10:00:00.5+01:00"])
def test_valid_templates_are_accepted(kind: str, ts: Any) -> None:
    raw = encode(body(kind, ts=ts))
    outcome = fresh_engine().ingest(raw, now=None)
    assert (outcome.status, outcome.reason, outcome.event_type) == ("accepted", None, kind)
    assert reference_reason(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        encode({k: v for k, v in body("call.wrapup").items() if k != "hold_seconds"}),  # default 0
        encode({k: v for k, v in body("agent.state").items() if k != "team"}),  # default team
        encode(body("agent.state", state="logged_out", queues=[])),  # empty only when logged out
        encode(body("agent.state", state="not_ready", reason="lunch")),
        encode(body("call.answered", wait_seconds=0)),
        encode(body("agent.state", state="wrap_up", queues=["sales", "vip"])),
    ],
)
def test_optional_fields_and_zero_values_are_accepted(raw: bytes) -> None:
    assert fresh_engine().ingest(raw, now=None).status == "accepted"
    assert reference_reason(raw) is None


NOT_JSON = [
    b"",
    b"not json",
    b"{'type': 'call.offered'}",
    b'{"type": "call.offered", ',
    b"\xff\xfe\x00garbage",
    b"[1, 2, 3]",
    b"[" + encode(body("call.offered")) + b"]",
    b'"call.offered"',
    b"42",
    b"null",
    b"true",
]


@pytest.mark.parametrize("raw", NOT_JSON)
def test_not_json_or_not_an_object(raw: bytes) -> None:
    outcome = fresh_engine().ingest(raw, now=None)
    assert (outcome.status, outcome.reason) == ("rejected", "invalid_json")
    assert outcome.detail
    assert reference_reason(raw) == "invalid_json"


@pytest.mark.parametrize("kind", ["call.teleported", "agent.mood", "CALL.OFFERED", ""])
def test_unknown_type(kind: str) -> None:
    raw = encode({**body("call.offered"), "type": kind})
    outcome = fresh_engine().ingest(raw, now=None)
    assert (outcome.status, outcome.reason) == ("rejected", "unknown_type")
    assert reference_reason(raw) == "unknown_type"


@pytest.mark.parametrize("type_value", ["<missing>", 5, None, ["call.offered"]])
def test_missing_or_non_string_type(type_value: Any) -> None:
    doc = body("call.offered")
    if type_value == "<missing>":
        del doc["type"]
    else:
        doc["type"] = type_value
    outcome = fresh_engine().ingest(encode(doc), now=None)
    # DESIGN lists a missing or ill-typed field under invalid_field, like the issue; only a
    # string that names no event type is unknown_type.
    assert (outcome.status, outcome.reason) == ("rejected", "invalid_field")
    assert "field 'type'" in outcome.detail
    assert reference_reason(encode(doc)) == "invalid_field"


@pytest.mark.parametrize(
    ("kind", "field"), [(kind, field) for kind, fields in REQUIRED.items() for field in fields]
)
def test_each_missing_field(kind: str, field: str) -> None:
    raw = without(kind, field)
    outcome = fresh_engine().ingest(raw, now=None)
    assert (outcome.status, outcome.reason) == ("rejected", "invalid_field")
    assert field in outcome.detail
    assert reference_reason(raw) == "invalid_field"


ILL_TYPED = [
    ("call.offered", "event_id", 17),
    ("call.offered", "event_id", ""),
    ("call.offered", "event_id", None),
    ("call.offered", "call_id", 17),
    ("call.offered", "call_id", ""),
    ("call.offered", "queue", ["sales"]),
    ("call.offered", "queue", ""),
    ("call.answered", "agent_id", 7),
    ("call.answered", "agent_id", ""),
    ("call.answered", "wait_seconds", "12"),
    ("call.answered", "wait_seconds", True),  # bool where a number belongs
    ("call.answered", "wait_seconds", False),
    ("call.answered", "wait_seconds", None),
    ("call.answered", "wait_seconds", -0.5),  # negative
    ("call.abandoned", "wait_seconds", -1),
    ("call.abandoned", "wait_seconds", {"s": 1}),
    ("call.wrapup", "talk_seconds", -3),
    ("call.wrapup", "hold_seconds", -1),
    ("call.wrapup", "hold_seconds", "0"),
    ("call.wrapup", "hold_seconds", True),
    ("call.wrapup", "acw_seconds", [30]),
    ("call.wrapup", "acw_seconds", -0.001),
    # Finite, but two of them sum to infinity: no snapshot could report AHT (contract-notes).
    ("call.wrapup", "talk_seconds", 1e308),
    ("call.wrapup", "acw_seconds", 1e9),
    ("call.answered", "wait_seconds", 10**12),
    ("agent.state", "agent_id", ""),
    ("agent.state", "state", "napping"),  # unknown state value
    ("agent.state", "state", "AVAILABLE"),
    ("agent.state", "state", 1),
    ("agent.state", "queues", "sales"),
    ("agent.state", "queues", [1]),
    ("agent.state", "queues", [""]),
    ("agent.state", "queues", []),  # empty but not logged_out
    ("agent.state", "queues", None),
    ("agent.state", "team", 5),
    ("agent.state", "team", ""),
    ("agent.state", "reason", 5),
    ("call.offered", "ts", True),  # bool where a number belongs
    ("call.offered", "ts", None),
    ("call.offered", "ts", [T]),
    ("call.offered", "ts", "yesterday"),  # garbage ts
    ("call.offered", "ts", "2026-11-23 nine o'clock"),
    ("call.offered", "ts", "2026-13-45T09:00:00Z"),
    ("call.offered", "ts", "2026-11-23T09:00:00"),  # ISO without offset
    ("call.offered", "ts", "2026-11-23T09:00:00.250"),
    ("call.offered", "ts", "2026-11-23"),
    ("call.offered", "ts", ""),
]


@pytest.mark.parametrize(("kind", "field", "value"), ILL_TYPED)
def test_ill_typed_fields(kind: str, field: str, value: Any) -> None:
    raw = encode(body(kind, **{field: value}))
    outcome = fresh_engine().ingest(raw, now=None)
    assert (outcome.status, outcome.reason) == ("rejected", "invalid_field"), outcome.detail
    assert outcome.event_type in (kind, None)
    assert reference_reason(raw) == "invalid_field"


LONGEST = 512  # characters of an id or name; queues of one agent.state (contract-notes)
TEXT_FIELDS = [
    (kind, field)
    for kind, fields in REQUIRED.items()
    for field in (*fields, "team")
    if field not in ("ts", "state", "queues", "wait_seconds", "talk_seconds", "acw_seconds")
    and (field != "team" or kind == "agent.state")
]


@pytest.mark.parametrize(("kind", "field"), TEXT_FIELDS)
def test_ids_and_names_up_to_the_limit_are_accepted_longer_ones_rejected(
    kind: str, field: str
) -> None:
    longest = encode(body(kind, **{field: "x" * LONGEST}))
    outcome = fresh_engine().ingest(longest, now=None)
    assert outcome.status == "accepted", outcome.detail
    assert reference_reason(longest) is None
    too_long = encode(body(kind, **{field: "x" * (LONGEST + 1)}))
    outcome = fresh_engine().ingest(too_long, now=None)
    assert (outcome.status, outcome.reason) == ("rejected", "invalid_field")
    assert f"'{field}' is 513 characters long (at most 512)" in outcome.detail
    assert reference_reason(too_long) == "invalid_field"


def test_an_agent_in_too_many_queues_or_a_too_long_queue_name_is_rejected() -> None:
    most = [f"q{index}" for index in range(LONGEST)]
    for queues, accepted in (
        (most, True),
        ([*most, "one-more"], False),
        (["x" * LONGEST], True),
        (["sales", "x" * (LONGEST + 1)], False),
    ):
        raw = encode(body("agent.state", queues=queues))
        outcome = fresh_engine().ingest(raw, now=None)
        assert (outcome.status == "accepted") is accepted, outcome.detail
        assert (reference_reason(raw) is None) is accepted
        if not accepted:
            assert outcome.reason == "invalid_field"
            assert "at most 512" in outcome.detail


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
@pytest.mark.parametrize("field", ["wait_seconds", "ts"])
def test_non_finite_numbers(literal: bytes, field: str) -> None:
    raw = encode(body("call.answered", **{field: 12345})).replace(b"12345", literal)
    outcome = fresh_engine().ingest(raw, now=None)
    # NaN/Infinity are not JSON at all (RFC 8259) and 1e999 overflows a double; DESIGN's
    # "non-finite number" covers both, so either decode reason is within the contract.
    assert outcome.status == "rejected"
    assert outcome.reason in ("invalid_json", "invalid_field")
    assert reference_reason(raw) in ("invalid_json", "invalid_field")


def test_future_in_live_mode_only() -> None:
    engine = fresh_engine(max_future_seconds=60)
    now = T
    at_limit = encode(body("call.offered", event_id="f0", ts=now + 60))
    assert engine.ingest(at_limit, now=now).status == "accepted"  # not *more* than 60 s ahead
    ahead = encode(body("call.offered", event_id="f1", ts=now + 60.5))
    outcome = engine.ingest(ahead, now=now)
    assert (outcome.status, outcome.reason) == ("rejected", "future")
    huge = encode(body("call.offered", event_id="f2", ts=4_102_444_800))  # year 2100
    assert engine.ingest(huge, now=now).reason == "future"
    iso = encode(body("call.offered", event_id="f3", ts="2026-11-23T10:01:01+01:00"))
    assert engine.ingest(iso, now=now).reason == "future"  # 61 s ahead
    # Replay mode has no future check at all.
    assert fresh_engine().ingest(huge, now=None).status == "accepted"


def test_future_comes_before_duplicate() -> None:
    """DESIGN's order: decode and validate, `future`, duplicate. A known id stamped too far
    ahead is rejected (and dead-lettered) as `future`, not ignored as a duplicate."""
    engine = fresh_engine(max_future_seconds=60)
    assert engine.ingest(encode(body("call.offered", event_id="d1", ts=T)), now=T).accepted
    again = engine.ingest(encode(body("call.offered", event_id="d1", ts=T + 120)), now=T)
    assert (again.status, again.reason) == ("rejected", "future")
    same = engine.ingest(encode(body("call.offered", event_id="d1", ts=T)), now=T)
    assert same.status == "duplicate"


def test_decode_errors_come_before_future() -> None:
    raw = encode(body("call.answered", ts=4_102_444_800, wait_seconds=-1))
    assert fresh_engine().ingest(raw, now=T).reason == "invalid_field"


def test_late_out_of_order_and_duplicate_sequence() -> None:
    engine = fresh_engine(allowed_lateness_seconds=300)

    def feed(kind: str, event_id: str, ts: float, **changes: Any) -> tuple[str, str | None]:
        outcome = engine.ingest(encode(body(kind, event_id=event_id, ts=ts, **changes)), None)
        return outcome.status, outcome.reason

    assert feed("agent.state", "s1", T) == ("accepted", None)
    assert feed("call.offered", "o1", T + 400) == ("accepted", None)  # now = T + 400
    assert feed("call.offered", "o2", T + 99.5) == ("rejected", "late")
    assert feed("call.offered", "o3", T + 100) == ("accepted", None)  # exactly now - lateness
    assert feed("agent.state", "s2", T + 200, state="on_call") == ("accepted", None)
    assert feed("agent.state", "s3", T + 150) == ("rejected", "out_of_order")
    assert feed("agent.state", "s4", T + 150, agent_id="a2") == ("accepted", None)
    assert feed("agent.state", "s5", T + 200) == ("accepted", None)  # equal ts is fine
    assert feed("call.offered", "o1", T + 400) == ("duplicate", None)  # not rejected
    # A duplicate is recognised before lateness and out_of_order are judged.
    assert feed("agent.state", "s4", T + 150, agent_id="a2") == ("duplicate", None)
    # Rejected events are not "seen": their id can still be accepted.
    assert feed("call.offered", "o2", T + 390) == ("accepted", None)
    # An undecodable line with a known id is rejected, never a duplicate.
    assert feed("call.offered", "o1", T + 400, queue="") == ("rejected", "invalid_field")
    snapshot = engine.snapshot(T + 410)
    assert snapshot["events"] == {
        "accepted": 7,
        "duplicates": 2,
        "rejected": {"late": 1, "out_of_order": 1, "invalid_field": 1},
    }


def test_live_lateness_is_measured_from_the_wall_clock() -> None:
    engine = fresh_engine(allowed_lateness_seconds=300)

    def feed(event_id: str, ts: float, now: float) -> tuple[str, str | None]:
        outcome = engine.ingest(encode(body("call.offered", event_id=event_id, ts=ts)), now)
        return outcome.status, outcome.reason

    # Even the very first event is late when it is older than wall clock - lateness.
    assert feed("l1", T - 300.5, now=T) == ("rejected", "late")
    assert feed("l2", T - 300, now=T) == ("accepted", None)
    assert feed("l3", T - 299, now=T + 1) == ("accepted", None)  # exactly at the horizon
    assert feed("l3", T - 299, now=T + 1) == ("duplicate", None)
    # Half a second later the id is forgotten and the repeat is judged on its own: late.
    assert feed("l3", T - 299, now=T + 1.5) == ("rejected", "late")


@pytest.mark.parametrize(
    "ts",
    [
        pytest.param("1e15"),
        pytest.param("1e20"),
        pytest.param("253402300799"),
        pytest.param('"9999-12-31T23:59:59Z"'),
        pytest.param('"0001-01-01T00:00:00+01:00"'),
    ],
)
def test_absurd_timestamps_never_raise_in_replay_mode(ts: str) -> None:
    template = '{"type": "call.offered", "event_id": "x", "ts": TS, "call_id": "c0", "queue": "q"}'
    raw = template.replace("TS", ts).encode()
    engine = fresh_engine()
    outcome = engine.ingest(raw, now=None)  # must not raise
    assert outcome.status == "rejected"  # no datetime can hold it: an unusable ts


def test_huge_durations_never_make_a_snapshot_fail() -> None:
    """Two wrap-ups of 1e307 s each are finite apart and infinite together: they are refused,
    so the queue's snapshot (AHT, staffing) still computes."""
    engine = fresh_engine()
    for index in range(2):
        raw = encode(body("call.wrapup", event_id=f"w{index}", talk_seconds=1e307))
        outcome = engine.ingest(raw, now=None)
        assert (outcome.status, outcome.reason) == ("rejected", "invalid_field")
        assert "at most 1e+09" in outcome.detail
    engine.ingest(encode(body("call.wrapup", event_id="w2", talk_seconds=100)), now=None)
    assert engine.snapshot(T + 3600)["queues"]["sales"]["windows"]["60m"]["aht_seconds"] > 0
