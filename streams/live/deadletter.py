"""Dead-letter records: the original bytes, why they were rejected and where they came from."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from streams.live.jsonbytes import dumps

# Kafka's default message limit is 1 MB; base64 grows bytes by a third, so larger originals are
# cut (and marked as cut) rather than making the dead-letter send itself fail.
MAX_ORIGINAL_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class SourcePosition:
    topic: str
    partition: int
    offset: int


def dead_letter_value(
    original: bytes | None, reason: str, detail: str, source: SourcePosition, rejected_at: float
) -> bytes:
    """The JSON value of a `cc.dead-letter` message."""
    payload = original or b""
    record: dict[str, Any] = {
        "reason": reason,
        "detail": detail,
        "source": {"topic": source.topic, "partition": source.partition, "offset": source.offset},
        "original_base64": base64.b64encode(payload[:MAX_ORIGINAL_BYTES]).decode("ascii"),
        "original_size": len(payload),
        "original_truncated": len(payload) > MAX_ORIGINAL_BYTES,
        "rejected_at": rejected_at,
    }
    return dumps(record)


def decode_dead_letter(value: bytes) -> dict[str, Any]:
    """Parse a dead-letter message; `original` holds the decoded original bytes."""
    record = orjson.loads(value)
    record["original"] = base64.b64decode(record["original_base64"])
    return record
