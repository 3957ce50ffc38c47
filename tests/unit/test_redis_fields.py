"""The Redis layout of a published snapshot: keys, flat fields, no field for a null."""

from __future__ import annotations

import orjson

from streams.adapters.redis_fields import (
    queue_key,
    queue_write,
    scalar_text,
    snapshot_writes,
    team_key,
    update_message,
)

AS_OF = "2026-11-23T10:00:00+00:00"
WINDOW = {
    "offered": 4,
    "answered": 2,
    "answered_within_threshold": 1,
    "abandoned": 0,
    "short_abandoned": 0,
    "abandoned_within_threshold": 0,
    "handled": 0,
    "service_level": 0.5,
    "asa_seconds": 12.25,
    "abandon_rate": 0.0,
    "aht_seconds": None,
    "occupancy": None,
}
QUEUE = {
    "calls_waiting": 2,
    "oldest_waiting_seconds": 41.5,
    "agents": {"staffed": 3, "available": 1, "on_call": 1, "wrap_up": 0, "not_ready": 1},
    "windows": {"15m": WINDOW, "today": dict(WINDOW, service_level=None)},
}


def test_flat_fields_for_every_scalar_and_none_for_nulls():
    write = queue_write("sales", QUEUE, AS_OF)
    assert write.key == "ccpulse:queue:sales"
    fields = write.fields
    assert fields["calls_waiting"] == "2"
    assert fields["oldest_waiting_seconds"] == "41.5"
    assert fields["agents.staffed"] == "3"
    assert fields["agents.not_ready"] == "1"
    assert fields["15m.offered"] == "4"
    assert fields["15m.service_level"] == "0.5"
    assert fields["15m.asa_seconds"] == "12.25"
    assert fields["15m.abandon_rate"] == "0.0"
    assert fields["as_of"] == AS_OF
    metrics = {f"{window}.{name}" for window in ("15m", "today") for name in WINDOW}
    assert metrics - set(fields) == {
        "15m.aht_seconds",
        "15m.occupancy",
        "today.aht_seconds",
        "today.occupancy",
        "today.service_level",
    }


def test_snapshot_field_is_the_queue_object_plus_as_of():
    write = queue_write("sales", QUEUE, AS_OF)
    assert orjson.loads(write.fields["snapshot"]) == {**QUEUE, "as_of": AS_OF}


def test_no_oldest_call_means_no_field():
    write = queue_write("idle", dict(QUEUE, calls_waiting=0, oldest_waiting_seconds=None), AS_OF)
    assert "oldest_waiting_seconds" not in write.fields
    assert write.fields["calls_waiting"] == "0"


def test_teams_and_whole_snapshots():
    snapshot = {
        "as_of": AS_OF,
        "queues": {"sales": QUEUE, "vip": QUEUE},
        "teams": {"t1": {"windows": {"15m": {"occupancy": 0.83}, "5m": {"occupancy": None}}}},
        "events": {"accepted": 1, "duplicates": 0, "rejected": {}},
    }
    writes = {write.key: write for write in snapshot_writes(snapshot)}
    assert set(writes) == {queue_key("sales"), queue_key("vip"), team_key("t1")}
    team = writes["ccpulse:team:t1"]
    assert team.fields["15m.occupancy"] == "0.83" and "5m.occupancy" not in team.fields
    assert orjson.loads(update_message(snapshot)) == snapshot


def test_scalar_text_round_trips():
    assert scalar_text(True) == "1"
    assert scalar_text(7) == "7"
    value = 0.1 + 0.2
    assert float(scalar_text(value)) == value
    assert scalar_text("erlang_c") == "erlang_c"
