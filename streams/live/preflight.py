"""Checks before the worker starts: Kafka reachable, topics present (created if missing) with
the configured partition count, Redis reachable with the right password. Each failure is a
`UserError` naming the environment variable or setting to fix (TLS causes told apart by
`streams.adapters.tls_diagnosis`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streams.adapters.redis_publisher import check_reachable
from streams.adapters.tls_diagnosis import kafka_tls_problem
from streams.config import Settings
from streams.errors import UserError
from streams.live.environment import KafkaConnection, WorkerEnvironment

log = logging.getLogger(__name__)


def source_topic_names(settings: Settings) -> list[str]:
    topics = settings.topics
    return [topics.offered, topics.answered, topics.abandoned, topics.wrapup, topics.agent_state]


class _LoginRefusals(logging.Handler):
    """aiokafka logs a refused SASL login and then raises only a generic connection error;
    this keeps the log line so the error can say which settings to fix."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.refused = False

    def emit(self, record: logging.LogRecord) -> None:
        if "SaslAuthenticationFailed" in record.getMessage():
            self.refused = True


async def start_admin(kafka: KafkaConnection, timeout: float) -> AIOKafkaAdminClient:
    """A started admin client; a one-line UserError naming the fix when Kafka cannot be
    reached, refuses the login or the TLS set-up is wrong."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=kafka.servers,
        request_timeout_ms=int(timeout * 1000),
        **kafka.aiokafka_kwargs(),
    )
    refusals = _LoginRefusals()
    aiokafka_log = logging.getLogger("aiokafka")
    aiokafka_log.addHandler(refusals)
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (KafkaError, OSError, TimeoutError) as error:
        await admin.close()
        if refusals.refused:
            raise UserError(
                f"Kafka at {kafka.redacted()} refused the login ({kafka.sasl_mechanism}): check "
                "CCPULSE_KAFKA_SASL_USERNAME and CCPULSE_KAFKA_SASL_PASSWORD (and "
                "CCPULSE_KAFKA_SASL_MECHANISM)"
            ) from None
        problem = await kafka_tls_problem(kafka)
        if problem is not None:
            raise UserError(problem) from None
        raise UserError(
            f"cannot reach Kafka at {kafka.redacted()} ({type(error).__name__}): start the "
            "broker (`ccpulse services start`) or set CCPULSE_KAFKA_BOOTSTRAP (and the "
            "CCPULSE_KAFKA_SASL_*/SSL_* settings)"
        ) from None
    finally:
        aiokafka_log.removeHandler(refusals)
    return admin


async def ensure_topics(
    kafka: KafkaConnection,
    settings: Settings,
    extra: list[str],
    replication: int = 1,
    timeout: float = 10.0,
) -> list[str]:
    """Create missing topics with `settings.partitions`; refuse topics with another count
    (the call topics and the routing topic must be co-partitioned). Returns created names."""
    admin = await start_admin(kafka, timeout)
    try:
        wanted = [*source_topic_names(settings), settings.topics.dead_letter, *extra]
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            # another worker may create them at the same time
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, settings.partitions, replication) for name in missing]
                )
        for description in await admin.describe_topics(wanted):
            name = description["topic"]
            count = len(description.get("partitions") or [])
            if count and count != settings.partitions:
                raise UserError(
                    f"Kafka topic {name!r} has {count} partitions but {settings.source} says "
                    f"partitions = {settings.partitions}; the event, routing and dead-letter "
                    f"topics must all have that count (set 'partitions' to {count} or "
                    "recreate the topic)"
                )
        return missing
    except KafkaError as error:
        raise UserError(f"Kafka at {kafka.redacted()} refused topic setup: {error}") from None
    finally:
        await admin.close()


async def preflight(settings: Settings, env: WorkerEnvironment, extra_topics: list[str]) -> None:
    await check_reachable(env.redis)
    created = await ensure_topics(env.kafka, settings, extra_topics, env.replication)
    if created:
        log.info("created Kafka topics: %s", ", ".join(created))
