"""Engine mappings backed by Faust tables, with write-back changelog batching.

Each engine mapping (`EngineState` field) is the in-memory store of one plain changelog-backed
Faust table. Reads and writes go straight to that store; a write also marks the key dirty, and
`flush()` (called once per processed batch, before the batch is acknowledged) sends one
changelog record per dirty key. Why not `table[key] = value`:

- Faust writes a key's changelog record to the partition of the event being processed, but the
  engine also deletes expired keys that belong to *other* partitions this worker owns (expiry
  runs on whatever event comes next). A tombstone in the wrong changelog partition would leave
  the key alive there. Here every key remembers its own partition.
- A bucket tally changes with almost every event; coalescing writes per batch sends it once.

The partition of a new key is the partition of the event being processed (`PartitionCursor`).
Keys of one queue, team, agent or call always come from the same partition (topics are keyed by
queue, agent and the routing topic by queue/team), so this is also the partition that the
Faust assignor hands to whichever worker owns that queue, team or agent.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson


class PartitionCursor:
    """The partition of the message being processed (set by the processor before each call)."""

    __slots__ = ("partition",)

    def __init__(self) -> None:
        self.partition: int = 0


class TableMapping(MutableMapping[str, list]):
    """One engine mapping over one Faust table's in-memory store.

    `data` and `key_partition` are the memory store's own dicts, so Faust's recovery fills the
    same dict and Faust's end-of-recovery pruning drops keys of partitions no longer assigned.
    """

    __slots__ = ("_cursor", "_data", "_dirty", "_key_partition", "changelog_topic", "name")

    def __init__(
        self,
        name: str,
        changelog_topic: str,
        data: dict[str, list],
        key_partition: dict[str, int],
        cursor: PartitionCursor,
    ) -> None:
        self.name = name
        self.changelog_topic = changelog_topic
        self._data = data
        self._key_partition = key_partition
        self._cursor = cursor
        self._dirty: dict[str, int] = {}

    def __getitem__(self, key: str) -> list:
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __setitem__(self, key: str, value: list) -> None:
        partition = self._key_partition.get(key)
        if partition is None:
            partition = self._key_partition[key] = self._cursor.partition
        self._data[key] = value
        self._dirty[key] = partition

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty[key] = self._key_partition.pop(key, self._cursor.partition)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self._data:
            value = self._data[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def items(self):  # type: ignore[override]
        return self._data.items()

    def keys(self):  # type: ignore[override]
        return self._data.keys()

    @property
    def dirty_count(self) -> int:
        return len(self._dirty)

    def drain(self) -> list[tuple[int, bytes, bytes | None]]:
        """Changelog records for every key changed since the last drain: (partition, JSON key,
        JSON value or None for a deleted key), JSON as the table's own serializers expect."""
        data = self._data
        records = []
        dumps = orjson.dumps
        for key, partition in self._dirty.items():
            value = data.get(key)
            records.append((partition, dumps(key), None if value is None else dumps(value)))
        self._dirty.clear()
        return records

    def discard_pending(self) -> None:
        """Forget unsent changes (the partitions were revoked; the new owner recovers them)."""
        self._dirty.clear()
