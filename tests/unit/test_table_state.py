"""The worker's engine mappings: every change reaches the changelog, with the right partition.

Runs the real engine (compiled or not, as the suite does) over dicts of `TableStore`: after each
drained batch, a replica built only from the changelog records must equal the engine's state,
and an engine rebuilt from that replica (a restarted worker) must give the same snapshot.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.config import settings_from_mapping
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from streams.live.table_state import PREFIXES, PartitionCursor, TableStore
from streams.synthetic import call_cycle_events

SETTINGS = settings_from_mapping(
    {
        "timezone": "UTC",
        "windows": ["5m"],
        "interval_minutes": 30,
        "bucket_seconds": 10,
        # short horizons, so ids, resolved calls and buckets expire within the test
        "allowed_lateness_seconds": 30,
        "max_wait_seconds": 120,
    }
)


def engine_contents(store: TableStore) -> dict[str, Any]:
    return {
        mapping.prefix + key: value
        for mapping in store.mappings.values()
        for key, value in dict.items(mapping)
    }


def apply_changelog(replica: dict[str, Any], records: dict[int, list], where: dict) -> None:
    for partition, pairs in records.items():
        for raw_key, raw_value in pairs:
            key = orjson.loads(raw_key)
            where[key] = partition
            if raw_value is None:
                replica.pop(key, None)
            else:
                replica[key] = orjson.loads(raw_value)


def new_store() -> tuple[TableStore, Engine, PartitionCursor]:
    cursor = PartitionCursor()
    store = TableStore({}, {}, cursor)
    return store, Engine(SETTINGS, store.engine_state()), cursor


def test_the_changelog_alone_rebuilds_the_engine_state_after_every_batch() -> None:
    store, engine, cursor = new_store()
    replica: dict[str, Any] = {}
    partition_of: dict[str, int] = {}
    lines = list(call_cycle_events(12_000, queues=6, agents=40, calls_per_second=2.0))
    deletions = 0
    for number, start in enumerate(range(0, len(lines), 300)):
        batch = lines[start : start + 300]
        cursor.partition = number % 3
        engine.process_many([decode_event(line) for line in batch])
        records = store.drain()
        deletions += sum(value is None for pairs in records.values() for _, value in pairs)
        apply_changelog(replica, records, partition_of)
        state = engine_contents(store)
        assert replica == orjson.loads(orjson.dumps(state))  # as JSON: tuples are lists
        assert store.key_partition == {key: partition_of[key] for key in replica}
        assert store.data == {}  # only recovery writes there, and reload() empties it
        assert store.pending == 0
    assert deletions > 1000  # expiry ran: deletes were tracked too
    assert {key[:2] for key in replica} == set(PREFIXES.values())

    # A restarted worker: recovery fills the table from the changelog, then `reload`.
    restarted, restarted_engine, _ = new_store()
    restarted.data.update(replica)
    restarted.key_partition.update({key: partition_of[key] for key in replica})
    restarted.reload()
    assert restarted.data == {}
    restarted_engine.invalidate_caches()
    as_of = (engine.max_ts // 10 + 1) * 10
    before, after = engine.snapshot(as_of), restarted_engine.snapshot(as_of)
    del before["events"], after["events"]  # this process's counters, not state
    assert after == before
    assert before["queues"]["queue-000"]["windows"]["5m"]["offered"] > 0


def test_a_recovery_after_a_rebalance_adds_new_partitions_and_drops_revoked_ones() -> None:
    store, _, cursor = new_store()
    seen, agents = store.mappings["seen"], store.mappings["agents"]
    cursor.partition = 0
    seen["kept"] = 1.0
    cursor.partition = 1
    seen["revoked"] = 2.0
    agents["a1"] = ["available"]
    store.drain()
    # Faust's recovery: partition 2 is new (its changelog read into the store), partition 0
    # re-read from where the last recovery stopped (our own record), partition 1 pruned.
    store.data.update({"s:new": 3.0, "s:kept": 1.0})
    store.key_partition.update({"s:new": 2})
    for key in ("s:revoked", "a:a1"):
        del store.key_partition[key]
    store.reload()
    assert dict(seen) == {"kept": 1.0, "new": 3.0}
    assert dict(agents) == {}
    assert store.data == {} and store.key_partition == {"s:kept": 0, "s:new": 2}
    assert store.drain() == {}  # nothing the engine changed, nothing to send


def test_a_key_keeps_the_partition_it_was_created_on() -> None:
    store, _, cursor = new_store()
    seen = store.mappings["seen"]
    cursor.partition = 2
    seen["event-1"] = 100.0
    assert store.drain() == {2: [(b'"s:event-1"', b"100.0")]}
    cursor.partition = 0  # expiry of another partition's key while partition 0 is processed
    del seen["event-1"]
    assert store.drain() == {2: [(b'"s:event-1"', None)]}
    assert store.data == {} and store.key_partition == {}


def test_one_record_per_key_and_batch_with_the_latest_value() -> None:
    store, _, cursor = new_store()
    buckets = store.mappings["buckets"]
    cursor.partition = 1
    for count in range(1, 4):
        buckets["q\x1fb\x1f0"] = [count]
    assert buckets.pop("missing", "default") == "default"
    assert store.drain() == {1: [(b'"b:q\\u001fb\\u001f0"', b"[3]")]}
    assert buckets.pop("q\x1fb\x1f0") == [3]
    with pytest.raises(KeyError):
        buckets.pop("q\x1fb\x1f0")
    assert store.drain() == {1: [(b'"b:q\\u001fb\\u001f0"', None)]}


@pytest.mark.parametrize(
    "write",
    [
        lambda m: m.update({"k": 1}),
        lambda m: m.setdefault("k", 1),
        lambda m: m.clear(),
        lambda m: m.popitem(),
    ],
)
def test_writes_the_changelog_would_miss_are_refused(write: Any) -> None:
    store, _, _ = new_store()
    with pytest.raises(TypeError, match="changelog"):
        write(store.mappings["legs"])
