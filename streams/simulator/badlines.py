"""Malformed input for demos and tests of the dead-letter path (`--bad-lines RATE`).

Each bad line is one of the ways real feeds go wrong, and the engine's rejection reason it must
get is known in advance. A separate random stream decides where they go, so the good events of
a run are the same with or without bad lines.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

INVALID_JSON, UNKNOWN_TYPE, INVALID_FIELD = "invalid_json", "unknown_type", "invalid_field"


class BadLines:
    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(f"bad-lines-{seed}")
        self.count = 0

    def before(self, event: dict[str, Any]) -> tuple[bytes, str] | None:
        """Maybe a malformed line to put before `event`: (line, expected rejection reason)."""
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        self.count += 1
        broken = dict(event, event_id=f"bad-{event['event_id']}")
        kind = self.rng.randrange(6)
        if kind == 0:  # cut off mid-line, as a crashed writer leaves it
            line = orjson.dumps(broken)
            return line[: max(1, len(line) // 2)], INVALID_JSON
        if kind == 1:
            return b'["an array", "not an event"]', INVALID_JSON
        if kind == 2:
            broken["type"] = "call.transferred"
            return orjson.dumps(broken), UNKNOWN_TYPE
        if kind == 3:
            broken.pop("agent_id" if broken["type"] == "agent.state" else "call_id")
            return orjson.dumps(broken), INVALID_FIELD
        if kind == 4:
            broken["ts"] = "yesterday at noon"
            return orjson.dumps(broken), INVALID_FIELD
        if broken["type"] == "agent.state":
            broken["state"] = "lunch"
        else:
            broken["call_id"] = ""
        return orjson.dumps(broken), INVALID_FIELD
