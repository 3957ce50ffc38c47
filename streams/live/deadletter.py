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
# The detail quotes the offending value (`unknown event type '...'`), which can be as long as
# the message itself; so can a key. Both are bounded so that a dead-letter record always fits
# one Kafka message (about 700 kB at most): a record the broker refuses would stop the worker,
# and its restart would read the same input again.
MAX_DETAIL_CHARS = 2000
MAX_KEY_BYTES = 16 * 1024


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
    if len(detail) > MAX_DETAIL_CHARS:
        detail = f"{detail[:MAX_DETAIL_CHARS]}... ({len(detail) - MAX_DETAIL_CHARS} characters cut)"
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


def dead_letter_key(key: bytes | None) -> bytes | None:
    """The key of a dead-letter record: the original message's, unless it is too big to send."""
    return key if key is None or len(key) <= MAX_KEY_BYTES else None


def decode_dead_letter(value: bytes) -> dict[str, Any]:
    """Parse a dead-letter message; `original` holds the decoded original bytes."""
    record = orjson.loads(value)
    record["original"] = base64.b64decode(record["original_base64"])
    return record
