"""Engine mappings backed by one changelog-backed Faust table, written back once per batch.

All engine mappings (`EngineState` fields) live in the in-memory store of ONE plain Faust
table, as views with a one-letter key prefix. Reads and writes go straight to that store; a
write also marks the key dirty, and `drain()` (once per processed batch, before the batch is
acknowledged) yields one changelog record per dirty key. Why this shape:

- Atomic batches: every key of a queue, team, agent or call belongs to one partition, so the
  records of one batch for partition p all go to partition p of the single changelog topic,
  sent as one Kafka record batch, which the broker appends all or nothing. A crash can thus
  never keep a batch's `seen` entries (dedupe) without its tallies, or the other way round.
- Faust writes a key's record to the partition of the event being processed, but the engine
  also deletes expired keys of *other* partitions this worker owns (expiry runs on whatever
  event comes next). Here every key remembers its own partition.
- A bucket tally changes with almost every event; coalescing per batch sends it once.

The partition of a new key is the partition of the event being processed (`PartitionCursor`).
Keys of one queue, team, agent or call always come from the same partition (topics are keyed by
queue, agent, and the routing topic by queue/team), which is also the partition the Faust
assignor hands to whichever worker owns that queue, team or agent.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from streams.kpi.state import EngineState

# One letter per EngineState mapping; a key in the table is "<letter>:<engine key>".
PREFIXES = {
    "seen": "s:",
    "buckets": "b:",
    "legs": "l:",
    "agents": "a:",
    "router": "r:",
    "scopes": "c:",
}


class PartitionCursor:
    """The partition of the message being processed (set by the processor before each call)."""

    __slots__ = ("partition",)

    def __init__(self) -> None:
        self.partition: int = 0


class TableStore:
    """The table's key -> value dict and key -> partition dict (the Faust memory store's own,
    so recovery fills them and Faust's end-of-recovery pruning drops revoked partitions), plus
    the keys changed since the last drain."""

    def __init__(
        self, data: dict[str, Any], key_partition: dict[str, int], cursor: PartitionCursor
    ) -> None:
        self.data = data
        self.key_partition = key_partition
        self.cursor = cursor
        self.dirty: dict[str, int] = {}

    def engine_state(self) -> EngineState:
        return EngineState(
            **{name: TableMapping(self, prefix) for name, prefix in PREFIXES.items()}
        )

    def drain(self) -> dict[int, list[tuple[bytes, bytes | None]]]:
        """Changelog records of every key changed since the last drain, by partition: (JSON
        key, JSON value or None for a deleted key), as the table's serializers expect."""
        records: dict[int, list[tuple[bytes, bytes | None]]] = {}
        data = self.data
        dumps = orjson.dumps
        for key, partition in self.dirty.items():
            value = data.get(key)
            records.setdefault(partition, []).append(
                (dumps(key), None if value is None else dumps(value))
            )
        self.dirty.clear()
        return records

    @property
    def pending(self) -> int:
        return len(self.dirty)


class TableMapping(MutableMapping[str, list]):
    """One engine mapping: the keys of the table that start with its prefix."""

    __slots__ = ("_data", "_prefix", "_store")

    def __init__(self, store: TableStore, prefix: str) -> None:
        self._store = store
        self._data = store.data
        self._prefix = prefix

    def __getitem__(self, key: str) -> list:
        return self._data[self._prefix + key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(self._prefix + key, default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._prefix + key in self._data

    def __setitem__(self, key: str, value: list) -> None:
        full = self._prefix + key
        store = self._store
        partition = store.key_partition.get(full)
        if partition is None:
            partition = store.key_partition[full] = store.cursor.partition
        self._data[full] = value
        store.dirty[full] = partition

    def __delitem__(self, key: str) -> None:
        full = self._prefix + key
        del self._data[full]
        store = self._store
        store.dirty[full] = store.key_partition.pop(full, store.cursor.partition)

    def pop(self, key: str, *default: Any) -> Any:
        full = self._prefix + key
        if full in self._data:
            value = self._data[full]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        prefix, size = self._prefix, len(self._prefix)
        return iter([key[size:] for key in self._data if key.startswith(prefix)])

    def __len__(self) -> int:
        prefix = self._prefix
        return sum(1 for key in self._data if key.startswith(prefix))

    def items(self):  # type: ignore[override]
        prefix, size = self._prefix, len(self._prefix)
        return [(key[size:], value) for key, value in self._data.items() if key.startswith(prefix)]

    def keys(self):  # type: ignore[override]
        return list(iter(self))
