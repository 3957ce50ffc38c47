"""Option parsing shared by sub-commands (this module registers no command)."""

from __future__ import annotations

import time
from datetime import datetime

from streams.errors import UserError


def parse_time(text: str, flag: str) -> float:
    """`now` or an ISO-8601 time with an offset, as epoch seconds; a one-line error otherwise."""
    if text == "now":
        return round(time.time(), 3)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{flag} {text!r} is not an ISO-8601 time like 2026-11-23T08:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise UserError(f"{flag} {text!r} has no UTC offset (add 'Z' or '+01:00')")
    return moment.timestamp()
