"""Redis clients whose commands are packed by hiredis (C) instead of redis-py's Python code.

Why: one publish is a pipeline of one HSET per queue and team, each with every flat field of
DESIGN.md (about 70 fields, so about 140 arguments per HSET). redis-py's asyncio connection
packs every argument in Python, re-joining the command buffer each time: with 50 queues that
took about 6 ms of the worker's event loop per publish (most of the publish), and it grows with
the queue count. redis-py's synchronous client already uses `hiredis.pack_command` when hiredis
is installed; the asyncio client does not, so this module lends it the same packing. The bytes
on the wire are identical (tests/unit/test_redis_connection.py).

The same clients also write a command's bytes to the socket at once. redis-py sends under
`asyncio.wait_for` when a socket timeout is set, which on Python 3.11 runs the send as a new
task: the bytes left one event-loop turn later, after whatever else was ready. In the worker
that was often a whole batch of events, so a publish's snapshot reached Redis, and the
wallboards, up to a batch's time later than it was taken.
"""

from __future__ import annotations

import functools
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import DataError


class _HiredisPacking:
    """Mixin for a redis-py asyncio connection class (TCP, TLS or unix socket)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        # As redis-py: a command name given as "CONFIG GET" is sent as two arguments.
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError as error:  # redis-py raises DataError for an unencodable argument
            raise DataError(str(error)) from error


class _SendsAtOnce:
    """Mixin for a redis-py asyncio connection class: bytes go to the transport before the
    first await. redis-py then only waits for the transport to drain (under its timeout)."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if (
            isinstance(command, list)
            and self.is_connected  # type: ignore[attr-defined]
            and not (check_health and self.health_check_interval)  # type: ignore[attr-defined]
        ):
            self._writer.writelines(command)  # type: ignore[attr-defined]
            command = []
        await super().send_packed_command(command, check_health)  # type: ignore[misc]


@functools.cache
def with_hiredis_packing(connection_class: type) -> type:
    return type(connection_class.__name__, (_HiredisPacking, connection_class), {})


@functools.cache
def fast_connection_class(connection_class: type) -> type:
    """`connection_class` packing with hiredis and sending at once."""
    return type(connection_class.__name__, (_SendsAtOnce, _HiredisPacking, connection_class), {})


def redis_client(url: str, **kwargs: Any) -> aioredis.Redis:
    """`redis.asyncio.Redis.from_url(url, **kwargs)`, packing commands with hiredis and
    sending them at once. The URL scheme still picks the connection class (redis://,
    rediss://, unix://)."""
    pool = aioredis.ConnectionPool.from_url(url, **kwargs)
    pool.connection_class = fast_connection_class(pool.connection_class)
    return aioredis.Redis.from_pool(pool)
