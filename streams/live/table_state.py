"""Engine mappings backed by one changelog-backed Faust table, written back once per batch.

All engine mappings (`EngineState` fields) are persisted in ONE plain Faust table, with a
one-letter key prefix per mapping. The engine itself works on plain dicts (reads at C speed, no
prefixing per access) whose writes mark the key dirty; `drain()` (once per processed batch,
before the batch is acknowledged) yields one changelog record per dirty key, and `reload()` takes
what recovery wrote into the table's in-memory store into those dicts and empties the store, so
each key is held once more, not twice more (keeping the store's dict filled as well cost 35
bytes per key: 33.8 instead of 30.1 MiB of state for 109,000 keys). Why this shape:

- Atomic batches: every key of a queue, team, agent or call belongs to one partition, so the
  records of one batch for partition p all go to partition p of the single changelog topic,
  sent as one Kafka record batch, which the broker appends all or nothing. A crash can thus
  never keep a batch's `seen` entries (dedupe) without its tallies, or the other way round.
- Faust writes a key's record to the partition of the event being processed, but the engine
  also deletes expired keys of *other* partitions this worker owns (expiry runs on whatever
  event comes next). Here every key remembers its own partition, in the store's key ->
  partition dict, which Faust also uses to prune revoked partitions after a rebalance.
- A bucket tally changes with almost every event; coalescing per batch sends it once.

The partition of a new key is the partition of the event being processed (`PartitionCursor`).
Keys of one queue, team, agent or call always come from the same partition (topics are keyed by
queue, agent, and the routing topic by queue/team), which is also the partition the Faust
assignor hands to whichever worker owns that queue, team or agent.
"""

from __future__ import annotations

from typing import Any

from streams.kpi.state import EngineState
from streams.live.jsonbytes import dumps

# One letter per EngineState mapping; a key in the table is "<letter>:<engine key>".
PREFIXES = {
    "seen": "s:",
    "buckets": "b:",
    "legs": "l:",
    "agents": "a:",
    "router": "r:",
    "scopes": "c:",
}


_DELETED = object()


class PartitionCursor:
    """The partition of the message being processed (set by the processor before each call)."""

    __slots__ = ("partition",)

    def __init__(self) -> None:
        self.partition: int = 0


class TableStore:
    """The engine's mappings (plain dicts, see `TableMapping`) and the table store's own
    key -> value and key -> partition dicts (the Faust memory store's: recovery fills both, and
    Faust's end-of-recovery pruning drops revoked partitions from both). `drain()` returns the
    changelog records of every key changed since the last drain; `reload()` brings the engine's
    mappings in line with a recovery."""

    def __init__(
        self, data: dict[str, Any], key_partition: dict[str, int], cursor: PartitionCursor
    ) -> None:
        self.data = data
        self.key_partition = key_partition
        self.cursor = cursor
        self.mappings = {name: TableMapping(prefix, cursor) for name, prefix in PREFIXES.items()}
        self.reload()

    def engine_state(self) -> EngineState:
        return EngineState(**self.mappings)

    def reload(self) -> None:
        """After a recovery: forget the keys of partitions Faust pruned (gone from the key ->
        partition dict), take every value recovery read from the changelog (our own earlier
        records for partitions kept, the whole state of new ones), then empty the store's dict.
        """
        key_partition = self.key_partition
        by_prefix = {mapping.prefix: mapping for mapping in self.mappings.values()}
        for prefix, mapping in by_prefix.items():
            mapping.dirty.clear()
            revoked = [key for key in dict.keys(mapping) if prefix + key not in key_partition]
            for key in revoked:
                dict.__delitem__(mapping, key)
        for key, value in self.data.items():
            mapping = by_prefix.get(key[:2])
            if mapping is not None:
                dict.__setitem__(mapping, key[2:], value)
        self.data.clear()

    def drain(self) -> dict[int, list[tuple[bytes, bytes | None]]]:
        """Changelog records of every key changed since the last drain, by partition: (JSON
        key, JSON value or None for a deleted key), as the table's serializers expect."""
        records: dict[int, list[tuple[bytes, bytes | None]]] = {}
        key_partition = self.key_partition
        for mapping in self.mappings.values():
            dirty = mapping.dirty
            if not dirty:
                continue
            prefix = mapping.prefix
            for key, first_partition in dirty.items():
                full = prefix + key
                value = dict.get(mapping, key, _DELETED)
                if value is _DELETED:
                    partition = key_partition.pop(full, first_partition)
                    encoded = None
                else:
                    partition = key_partition.setdefault(full, first_partition)
                    encoded = dumps(value)
                records.setdefault(partition, []).append((dumps(full), encoded))
            dirty.clear()
        return records

    @property
    def pending(self) -> int:
        return sum(len(mapping.dirty) for mapping in self.mappings.values())


class TableMapping(dict):
    """One engine mapping: a plain dict, so the engine's reads run at C speed, whose writes
    also note the key as changed (with the partition being processed, which becomes a new key's
    partition). Only the writes the engine uses are tracked; the others raise rather than
    change state behind the changelog's back."""

    __slots__ = ("cursor", "dirty", "prefix")

    def __init__(self, prefix: str, cursor: PartitionCursor) -> None:
        super().__init__()
        self.prefix = prefix
        self.cursor = cursor
        self.dirty: dict[str, int] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        if key not in self.dirty:
            self.dirty[key] = self.cursor.partition

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        if key not in self.dirty:
            self.dirty[key] = self.cursor.partition

    def pop(self, key: str, *default: Any) -> Any:
        if dict.__contains__(self, key):
            value = dict.pop(self, key)
            if key not in self.dirty:
                self.dirty[key] = self.cursor.partition
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def _untracked(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "engine state mappings track only m[k] = v, del m[k] and m.pop(k): another "
            "write would never reach the changelog"
        )

    setdefault = update = clear = popitem = __ior__ = _untracked  # type: ignore[assignment]
