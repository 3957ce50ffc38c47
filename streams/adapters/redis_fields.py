"""The Redis layout of a snapshot (DESIGN.md, "Outputs"): keys and flat hash fields.

Null metrics have no flat field, never one written as 0 or "": each publish replaces the whole
hash (`RedisPublisher`), so a metric that became null, or a window dropped from the config,
leaves no old value behind. A Grafana Redis panel then shows "no value" for an undefined
service level instead of a number, and every field that exists parses as a number. The
`snapshot` JSON field keeps the nulls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

QUEUE_KEY_PREFIX = "ccpulse:queue:"
TEAM_KEY_PREFIX = "ccpulse:team:"
QUEUES_SET = "ccpulse:queues"
TEAMS_SET = "ccpulse:teams"
UPDATES_CHANNEL = "ccpulse:updates"


@dataclass(frozen=True, slots=True)
class HashWrite:
    key: str
    fields: dict[str, str]  # the whole hash: every non-null scalar, `as_of`, `snapshot`


def queue_key(queue: str) -> str:
    return QUEUE_KEY_PREFIX + queue


def team_key(team: str) -> str:
    return TEAM_KEY_PREFIX + team


def scalar_text(value: Any) -> str:
    """A value as Redis stores it: ints without a decimal point, floats round-trippable,
    strings as they are, anything else as JSON."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _flatten_into(prefix: str, document: dict[str, Any], fields: dict[str, str]) -> None:
    # Runs for every field of every queue at every publish: the common types are dispatched
    # inline, `scalar_text` handles the rest.
    for name, value in document.items():
        path = prefix + name
        kind = type(value)
        if kind is float:
            fields[path] = repr(value)
        elif kind is int:
            fields[path] = str(value)
        elif value is None:
            continue
        elif isinstance(value, dict):
            _flatten_into(path + ".", value, fields)
        else:
            fields[path] = scalar_text(value)


def _hash_write(key: str, scope: dict[str, Any], as_of: str) -> HashWrite:
    fields: dict[str, str] = {}
    windows = scope.get("windows")
    _flatten_into("", {k: v for k, v in scope.items() if k != "windows"}, fields)
    if windows:
        _flatten_into("", windows, fields)
    fields["as_of"] = as_of
    fields["snapshot"] = orjson.dumps({**scope, "as_of": as_of}).decode()
    return HashWrite(key, fields)


def queue_write(queue: str, snapshot: dict[str, Any], as_of: str) -> HashWrite:
    """`ccpulse:queue:<queue>`: `snapshot` (the queue's object plus `as_of`), `as_of`,
    `calls_waiting`, `oldest_waiting_seconds`, `agents.<state>`, `<window>.<metric>`."""
    return _hash_write(queue_key(queue), snapshot, as_of)


def team_write(team: str, snapshot: dict[str, Any], as_of: str) -> HashWrite:
    """`ccpulse:team:<team>`: `snapshot`, `as_of`, `<window>.occupancy`."""
    return _hash_write(team_key(team), snapshot, as_of)


def snapshot_writes(snapshot: dict[str, Any]) -> list[HashWrite]:
    as_of = snapshot["as_of"]
    writes = [queue_write(name, queue, as_of) for name, queue in snapshot["queues"].items()]
    writes += [team_write(name, team, as_of) for name, team in snapshot.get("teams", {}).items()]
    return writes


def update_message(snapshot: dict[str, Any]) -> bytes:
    """The `ccpulse:updates` message: the published part of the snapshot (DESIGN "Snapshot")."""
    return orjson.dumps(snapshot)
