"""Reads the live queue snapshots from Redis (DESIGN.md "Outputs"): the SET `ccpulse:queues`
and, per queue, field `snapshot` of HASH `ccpulse:queue:<queue>`."""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import orjson

QUEUES_SET = "ccpulse:queues"
QUEUE_KEY_PREFIX = "ccpulse:queue:"
UNREADABLE = object()  # a queue whose snapshot field is missing or not a JSON object


class SourceError(Exception):
    """The snapshots cannot be read right now (the message says why, without secrets)."""


class SnapshotSource(Protocol):
    async def fetch(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def parse_snapshot(raw: bytes | str | None) -> Any:
    """A queue snapshot object, or UNREADABLE (shown as such, never dropped silently)."""
    if raw is None:
        return UNREADABLE
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return UNREADABLE
    return document if isinstance(document, dict) else UNREADABLE


class RedisSource:
    """Short timeouts so a dead Redis is reported within a refresh or two, then retried."""

    def __init__(self, url: str, client_kwargs: dict[str, Any] | None = None) -> None:
        from redis.asyncio import Redis

        self.client = Redis.from_url(
            url,
            socket_connect_timeout=1.0,
            socket_timeout=2.0,
            retry_on_timeout=False,
            **(client_kwargs or {}),
        )

    async def fetch(self) -> dict[str, Any]:
        from redis.exceptions import RedisError

        try:
            names = sorted(
                name.decode() if isinstance(name, bytes) else name
                for name in await self.client.smembers(QUEUES_SET)
            )
            # One transaction: every queue read at the same publish (the worker writes each
            # publish as one transaction too).
            pipe = self.client.pipeline(transaction=True)
            for name in names:
                pipe.hget(QUEUE_KEY_PREFIX + name, "snapshot")
            raws = await pipe.execute() if names else []
        except (RedisError, OSError) as error:
            raise SourceError(_describe(error)) from None
        return {name: parse_snapshot(raw) for name, raw in zip(names, raws, strict=True)}

    async def close(self) -> None:
        # Closing a broken connection must not turn a clean exit into a crash.
        with contextlib.suppress(Exception):
            await self.client.aclose()


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:160]
