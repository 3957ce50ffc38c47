"""Publishes snapshots to Redis: idempotent, coalesced, and riding out Redis outages.

The worker calls `publish(snapshot)` once per `publish_interval_seconds` with the state of the
queues and teams it owns, so each queue is written at most once per interval. Every write is
absolute (each hash deleted and written whole, SADD, PUBLISH), never INCR, so a repeated or
late write is harmless and the first write after an outage restores everything.

Outage: a failed write logs one warning and the publisher backs off (doubling up to
`max_backoff`); snapshots taken meanwhile replace each other (only the newest is kept) and the
newest is written as soon as Redis answers again. Processing never waits for Redis.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from streams.adapters.redis_connection import redis_client
from streams.adapters.redis_fields import (
    QUEUES_SET,
    TEAMS_SET,
    UPDATES_CHANNEL,
    snapshot_writes,
    update_message,
)
from streams.adapters.tls_diagnosis import redis_tls_problem
from streams.errors import UserError
from streams.live.environment import RedisConnection

log = logging.getLogger(__name__)


def connect(connection: RedisConnection, timeout: float = 2.0) -> aioredis.Redis:
    return redis_client(
        connection.url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        **connection.client_kwargs(),
    )


async def check_reachable(connection: RedisConnection, timeout: float = 5.0) -> None:
    """Fail fast with a message naming the environment variable to fix."""
    client = connect(connection, timeout)
    where = connection.redacted()
    try:
        await client.ping()
    except AuthenticationError:
        if connection.password is None and not urlsplit(connection.url).password:
            raise UserError(
                f"Redis at {where} requires a password: set CCPULSE_REDIS_PASSWORD"
            ) from None
        raise UserError(
            f"Redis at {where} rejected the password: set CCPULSE_REDIS_PASSWORD (or the "
            "password in CCPULSE_REDIS_URL) to the server's requirepass"
        ) from None
    except ResponseError as error:
        if "NOAUTH" in str(error) or "AUTH" in str(error).upper():
            raise UserError(
                f"Redis at {where} requires a password: set CCPULSE_REDIS_PASSWORD"
            ) from None
        raise UserError(f"Redis at {where} answered with an error: {error}") from None
    except (RedisError, OSError) as error:
        problem = await redis_tls_problem(connection)
        if problem is not None:
            raise UserError(problem) from None
        raise UserError(
            f"cannot reach Redis at {where} ({type(error).__name__}): start redis-server or "
            "set CCPULSE_REDIS_URL"
        ) from None
    finally:
        await client.aclose()


class RedisPublisher:
    def __init__(
        self,
        connection: RedisConnection,
        initial_backoff: float = 0.5,
        max_backoff: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connection = connection
        self.client = connect(connection)
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self._backoff = initial_backoff
        self._retry_at = 0.0
        self._failing = False
        self.pending: dict[str, Any] | None = None
        self.writes = 0  # successful publishes, for /healthz and tests
        self.failures = 0
        self.last_latency: float | None = None

    @property
    def healthy(self) -> bool:
        return not self._failing

    async def publish(self, snapshot: dict[str, Any]) -> bool:
        """Write `snapshot` now, or keep it as the newest pending one while Redis is away."""
        self.pending = snapshot
        if self._failing and self.clock() < self._retry_at:
            return False
        return await self.flush()

    async def flush(self) -> bool:
        snapshot = self.pending
        if snapshot is None:
            return True
        started = self.clock()
        try:
            await self._write(snapshot)
        except (RedisError, OSError) as error:
            self.failures += 1
            if not self._failing:
                log.warning(
                    "Redis at %s unavailable (%s: %s); processing continues, retrying with "
                    "backoff and republishing the latest state when it is back",
                    self.connection.redacted(),
                    type(error).__name__,
                    error,
                )
                self._failing = True
                self._backoff = self.initial_backoff
            else:
                self._backoff = min(self._backoff * 2, self.max_backoff)
            self._retry_at = self.clock() + self._backoff
            return False
        if self._failing:
            log.warning("Redis at %s is back; latest state republished", self.connection.redacted())
            self._failing = False
        self.pending = None
        self.writes += 1
        self.last_latency = self.clock() - started
        return True

    async def _write(self, snapshot: dict[str, Any]) -> None:
        writes = snapshot_writes(snapshot)
        if not writes:
            return
        # MULTI/EXEC: a wallboard or Grafana reading between two commands would otherwise see
        # one queue's new numbers beside another's old ones, or a hash half written.
        pipe = self.client.pipeline(transaction=True)
        for write in writes:
            # Replaced whole: a field the snapshot no longer has (a metric now null, a window
            # dropped from the config) must not keep its old value.
            pipe.delete(write.key)
            pipe.hset(write.key, mapping=write.fields)
        if snapshot["queues"]:
            pipe.sadd(QUEUES_SET, *snapshot["queues"])
        if snapshot.get("teams"):
            pipe.sadd(TEAMS_SET, *snapshot["teams"])
        pipe.publish(UPDATES_CHANNEL, update_message(snapshot))
        await pipe.execute()

    async def close(self) -> None:
        await self.client.aclose()
