"""The engine's persistent state: injectable key-value mappings with small values.

Keys are strings and values are short JSON-able lists (plain numbers in `seen`), so a Faust
table (JSON values) can back each mapping as well as a dict. The engine always writes a changed
value back (`m[k] = v`), which is what makes a table log it to its changelog.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, fields
from typing import Any

StateMapping = MutableMapping[str, Any]


@dataclass(slots=True)
class EngineState:
    seen: StateMapping  # event_id -> ts: accepted ids still inside the lateness horizon
    buckets: StateMapping  # "<scope>\x1f<b|i|d>\x1f<start>" -> tally (see streams.kpi.tally)
    legs: StateMapping  # "<queue>\x1f<call_id>" -> [WAITING|RESOLVED, ts]
    agents: StateMapping  # "<scope>\x1f<agent_id>" -> [state, since]
    router: StateMapping  # agent_id -> [ts, state, queues, team]: the agent's latest event
    scopes: StateMapping  # "<q|t>\x1f<name>" -> [first ts]: every queue and team ever seen

    @classmethod
    def in_memory(cls) -> EngineState:
        return cls(**{field.name: {} for field in fields(cls)})

    @classmethod
    def mapping_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    def size(self) -> dict[str, int]:
        """Entries per mapping: what a bounded-memory check watches."""
        return {name: len(getattr(self, name)) for name in self.mapping_names()}
