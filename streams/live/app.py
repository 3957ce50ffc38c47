"""Composition root of the live worker: Faust app, topics, tables, agent, publish loop, web views.

Data path per batch (one agent over every source topic, batches from `take_events`):
  engine ingest/route/apply (processor) -> send routing + dead-letter records -> send the
  changelog records of every table key the batch changed -> batch acknowledged.
Faust commits acknowledged offsets only after flushing its producer, so a committed offset
never runs ahead of the state and routing records it produced (at least once; repeats are
removed by `event_id`, routed agent-state updates are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import faust
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from streams.adapters.prometheus_collector import engine_registry
from streams.adapters.redis_publisher import RedisPublisher
from streams.config import Settings
from streams.kpi.engine import Engine
from streams.live.bulk_consumer import BulkConsumer, GuardedConsumer
from streams.live.environment import WorkerEnvironment
from streams.live.kafka_contact import KafkaContact
from streams.live.processor import BatchFailed, BatchProcessor, partition_for_key
from streams.live.table_state import PartitionCursor, TableStore
from streams.live.throttle import PublishThrottle
from streams.runtime import tune_garbage_collector

log = logging.getLogger(__name__)


def scope_topic_name(app_id: str) -> str:
    """Internal topic carrying routed agent-state updates, keyed by queue or team name."""
    return f"{app_id}-agent-scope"


STATE_TABLE = "engine-state"  # changelog topic: "<app id>-engine-state-changelog"


def faust_credentials(env: WorkerEnvironment) -> Any:
    kafka = env.kafka
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            ssl_context=kafka.ssl_context(),
            mechanism=kafka.sasl_mechanism,
        )
    if kafka.security_protocol == "SSL":
        return faust.SSLCredentials(kafka.ssl_context())
    return None


# glibc serves allocations of at least this size with mmap (returned to the system on free).
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # mallopt parameter, <malloc.h>


def pin_malloc_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (as MALLOC_MMAP_THRESHOLD_ would) so big blocks always come
    from mmap and go back to the system when freed.

    Why: glibc starts at 128 KiB and raises the threshold to the size of any mmapped block
    that is freed (up to 32 MiB). The worker's largest blocks are the hash tables of the
    state table's dicts (with the default lateness, two of about 15-30 MiB: 600,000 event
    ids at 2,000 events/s), which CPython reallocates whenever deletions fill them (every few
    minutes once the dedupe horizon is full). After the first such free, the next tables were
    carved out of the brk heap, which cannot shrink below the blocks above them: each cycle
    left a table-sized hole, and RSS kept stepping up after the horizon (measured: heap 22 ->
    49 MiB with 18 MiB of it free, at a 60 s lateness). A fixed threshold also stops the
    dynamic trim threshold, so free memory at the top of the heap is returned promptly.
    Nothing is changed when the environment already tunes malloc, or off glibc."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "GLIBC_TUNABLES" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


@dataclass
class Readiness:
    """Ready once partitions are assigned and every table finished recovering."""

    tables: int
    ready: bool = False
    recovered: set[str] = field(default_factory=set)
    rebalances: int = 0

    def start_rebalance(self) -> None:
        self.ready = False
        self.recovered.clear()

    def table_recovered(self, name: str) -> bool:
        self.recovered.add(name)
        if len(self.recovered) >= self.tables:
            self.ready = True
            self.rebalances += 1
        return self.ready


class LiveWorker:
    """Everything the running worker holds: Faust app, state table, engine, sinks."""

    def __init__(self, settings: Settings, env: WorkerEnvironment) -> None:
        self.settings = settings
        self.env = env
        tuning = env.tuning
        self.app = faust.App(
            env.app_id,
            broker=[f"kafka://{server}" for server in env.kafka.servers],
            broker_credentials=faust_credentials(env),
            autodiscover=False,
            store="memory://",
            datadir=str(env.state_dir),
            web_enabled=True,
            web_host=env.web_host,
            web_bind=env.web_host,
            web_port=env.web_port,
            # One batch's state records per partition must fit one Kafka record batch (written
            # all or nothing); the broker's default limit is 1 MB.
            producer_max_batch_size=900 * 1024,
            broker_session_timeout=tuning.session_timeout,
            broker_heartbeat_interval=tuning.heartbeat_interval,
            broker_rebalance_timeout=tuning.rebalance_timeout,
            broker_request_timeout=max(tuning.session_timeout * 1.5, 10.0),
            broker_commit_interval=tuning.commit_interval,
            topic_partitions=settings.partitions,
            topic_replication_factor=env.replication,
            table_standby_replicas=0,
            consumer_auto_offset_reset="earliest",
            stream_buffer_maxsize=max(4096, tuning.batch_max * 2),
            logging_config=None,
        )
        self.cursor = PartitionCursor()
        self.table = self.app.Table(
            STATE_TABLE,
            partitions=settings.partitions,
            key_type=str,
            help="KPI engine state: every EngineState mapping, keys prefixed per mapping",
        )
        self.changelog_topic = self.table.changelog_topic.get_topic_name()
        self.store = TableStore(self.table.data.data, self.table.data._key_partition, self.cursor)
        self.state = self.store.engine_state()
        self.engine = Engine(settings, self.state)
        self.scope_topic = scope_topic_name(env.app_id)
        self.processor = BatchProcessor(self.engine, settings, self.scope_topic, self.cursor)
        self.source = self.app.topic(
            *self.processor.source_topics,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )
        # No commit after a record failed to reach Kafka (GuardedConsumer), and source topics
        # bypass Faust's per-message stream path (see bulk_consumer).
        self.delivery_error: BaseException | None = None
        self.kafka_contact = KafkaContact(tuning.kafka_silence)
        consumer_attributes: dict[str, Any] = {
            "delivery_failure": staticmethod(lambda: self.delivery_error),
            "kafka_contact": self.kafka_contact,
        }
        if tuning.bulk:
            consumer_attributes["bulk_handler"] = staticmethod(self.handle_bulk)
            consumer_attributes["bulk_topics"] = frozenset(self.processor.source_topics)
        self.app.transport.Consumer = type(
            "CcpulseConsumer",
            (BulkConsumer if tuning.bulk else GuardedConsumer,),
            consumer_attributes,
        )
        self.readiness = Readiness(tables=1)
        self.publisher = RedisPublisher(env.redis)
        self.registry = engine_registry(
            self.engine, self.owned_snapshot, lambda: not self.kafka_contact.cut_off()
        )
        self.batches = 0
        self.events = 0
        self._last_publish_error = -math.inf
        self.timing = [0.0, 0.0, 0, 0.0]
        self._round_robin = 0
        self._warned_split = False
        self._key_partitions: dict[bytes, int] = {}
        self.throttle = PublishThrottle(settings.publish_interval_seconds)
        self._changed: asyncio.Event | None = None  # set by batches and recovery
        self._wire()

    # ------------------------------------------------------------------------------- wiring
    def _wire(self) -> None:
        app = self.app
        tuning = self.env.tuning

        async def ingest(stream: faust.StreamT) -> None:
            async for events in stream.take_events(tuning.batch_max, within=tuning.batch_within):
                await self.process_batch([event.message for event in events])

        app.agent(self.source, name="ccpulse-ingest")(ingest)
        app.task(self.publish_loop, traced=False)

        self.table.on_recover(self._recovered_callback(STATE_TABLE))

        app.on_partitions_revoked.connect(self._on_rebalance_start)
        app.on_partitions_assigned.connect(self._on_rebalance_start)

        async def metrics(view: faust.web.View, request: Any) -> Any:
            body = generate_latest(self.registry)
            return view.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(view: faust.web.View, request: Any) -> Any:
            try:
                assignment = sorted(
                    tp.partition
                    for tp in app.consumer.assignment()
                    if tp.topic == self.settings.topics.offered
                )
            except Exception:  # consumer not created or not started yet
                assignment = []
            body = {
                "ready": self.readiness.ready,
                "partitions": assignment,
                "kafka": "unavailable" if self.kafka_contact.cut_off() else "ok",
                "redis": "ok" if self.publisher.healthy else "unavailable",
                "redis_writes": self.publisher.writes,
                "events_processed": self.source_events(),
                "messages_processed": self.events,
            }
            return view.json(body, status=200 if self.readiness.ready else 503)

        app.page("/metrics", name="ccpulse-metrics")(metrics)
        app.page("/healthz", name="ccpulse-healthz")(healthz)

    def _recovered_callback(self, name: str) -> Any:
        async def on_recover() -> None:
            # Recovery filled (and pruned) the table behind the engine's back: refill the
            # engine's mappings and rebuild its derived indexes before the next batch or
            # snapshot reads them.
            self.store.reload()
            self.engine.invalidate_caches()
            self._notify_change()
            if self.readiness.table_recovered(name):
                # Now, not in the first publish after the restart: it reads every bucket.
                self.engine.prepare_snapshots()
                log.info(
                    "state recovered (%s); ready",
                    ", ".join(f"{n}={size}" for n, size in self.state.size().items()),
                )

        return on_recover

    async def _on_rebalance_start(self, sender: Any = None, *args: Any, **kwargs: Any) -> None:
        self.readiness.start_rebalance()

    # ------------------------------------------------------------------------------- work
    def _kafka_producer(self) -> Any:
        """Faust's own aiokafka producer: what Faust flushes before it commits offsets."""
        return self.app.producer._ensure_producer()

    async def _send_grouped(self, grouped: dict[tuple[str, int], list[tuple]]) -> None:
        """Send records as one aiokafka batch per (topic, partition): a record costs a few
        microseconds this way instead of a producer round of its own."""
        producer = self._kafka_producer()
        for (topic, partition), records in grouped.items():
            batch = producer.create_batch()
            for key, value in records:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    if topic == self.changelog_topic and not self._warned_split:
                        self._warned_split = True
                        log.warning(
                            "one batch's state records for partition %d exceed a Kafka record "
                            "batch and are written in parts; lower CCPULSE_BATCH_MAX so that a "
                            "crash cannot keep part of a batch",
                            partition,
                        )
                    future = await producer.send_batch(batch, topic, partition=partition)
                    future.add_done_callback(self._on_delivery)
                    batch = producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        raise ValueError(f"record for {topic} larger than a producer batch")
            if batch.record_count():
                future = await producer.send_batch(batch, topic, partition=partition)
                future.add_done_callback(self._on_delivery)

    def _on_delivery(self, future: Any) -> None:
        if future.cancelled() or future.exception() is None:
            return
        self._record_lost(future.exception())

    def _record_lost(self, error: BaseException) -> None:
        # Offsets of the batch may already be acknowledged: stop rather than commit past state
        # that never reached Kafka (the restart redelivers from the last good commit). The
        # crash is only scheduled here; `delivery_error` stops the commit that may run first.
        if self.delivery_error is None:
            self.delivery_error = error
        log.critical("a state/routing record could not be written to Kafka: %r", error)
        self.app.loop.create_task(self.app.crash(error))

    async def handle_bulk(self, messages: list[Any]) -> None:
        """Called by the consumer with every fetched batch of source messages; acknowledges
        them once their effects are with the producer (Faust commits only acknowledged
        offsets, after flushing the producer)."""
        step = self.env.tuning.batch_max
        consumer = self.app.consumer
        for start in range(0, len(messages), step):
            chunk = messages[start : start + step]
            await self.process_batch(chunk)
            consumer.ack_records(chunk)

    async def process_batch(self, messages: list[Any]) -> None:
        started = time.perf_counter()
        try:
            outgoing = self.processor.process(messages)
        except Exception as error:
            # A fault outside the processor's guards (bad input is rejected, never raised; a
            # message that faults and a failed tally fold are dead-lettered by the processor).
            # Keep going, but never drop anything silently: keep what the partitions finished
            # before it produced, retry the rest one by one and dead-letter the culprit.
            failed = error if isinstance(error, BatchFailed) else BatchFailed([], messages)
            log.exception(
                "batch of %d messages failed; retrying %d one by one",
                len(messages),
                len(failed.unfinished),
            )
            outgoing = failed.done
            for message in failed.unfinished:
                try:
                    outgoing += self.processor.process([message])
                except Exception as message_error:
                    log.exception(
                        "message %s[%d]@%d failed", message.topic, message.partition, message.offset
                    )
                    outgoing.append(self.processor.internal_error(message, message_error))
        processed = time.perf_counter()
        grouped: dict[tuple[str, int], list[tuple]] = {}
        for record in outgoing:
            partition = self._key_partition(record.key) if record.key else self._any_partition()
            grouped.setdefault((record.topic, partition), []).append((record.key, record.value))
        for partition, records in self.store.drain().items():
            grouped[(self.changelog_topic, partition)] = records
        try:
            await self._send_grouped(grouped)
        except Exception as error:
            # As a failed delivery: the engine holds this batch's state, the changelog never
            # will, so nothing may be committed past it (Faust's stream path acknowledges the
            # batch even when this raises).
            self._record_lost(error)
            raise
        self._notify_change()
        sent = sum(len(records) for records in grouped.values())
        self.batches += 1
        self.events += len(messages)
        timing = self.timing
        timing[0] += processed - started
        timing[1] += time.perf_counter() - processed
        timing[2] += sent
        if started - timing[3] > 30:  # a progress line every 30 s while busy
            log.info(
                "progress: %d batches, %d messages; %.1f s in the engine, %.1f s sending %d "
                "state/routing records; last batch %d",
                self.batches,
                self.events,
                timing[0],
                timing[1],
                timing[2],
                len(messages),
            )
            timing[3] = started

    def _key_partition(self, key: bytes) -> int:
        partition = self._key_partitions.get(key)
        if partition is None:
            if len(self._key_partitions) > 100_000:
                self._key_partitions.clear()
            partition = partition_for_key(key, self.settings.partitions)
            self._key_partitions[key] = partition
        return partition

    def _any_partition(self) -> int:
        self._round_robin = (self._round_robin + 1) % self.settings.partitions
        return self._round_robin

    def source_events(self) -> int:
        """Source events handled by this process (accepted, duplicate or rejected)."""
        stats = self.engine.stats
        return stats.accepted + stats.duplicates + sum(stats.rejected.values())

    def owned_snapshot(self) -> dict[str, Any] | None:
        """The snapshot of every queue and team this worker owns now; None while recovering
        or while Kafka does not answer (`KafkaContact`: no frozen figures shown as current).
        After recovery the tables hold exactly the owned partitions' keys."""
        if not self.readiness.ready or self.kafka_contact.cut_off():
            return None
        return self.engine.snapshot(self.engine.live_as_of(time.time()))

    def _notify_change(self) -> None:
        changed = self._changed
        if changed is not None:
            changed.set()

    async def publish_loop(self) -> None:
        """Publish every `publish_interval_seconds`, each publish starting exactly one interval
        after the previous one started (`PublishThrottle`); while there is nothing to publish
        (not ready, no queue yet), publish as soon as a batch or a recovery changes that."""
        app = self.app
        throttle = self.throttle
        clock = time.monotonic
        changed = self._changed = asyncio.Event()
        while not app.should_stop:
            delay = throttle.delay(clock())
            if delay > 0:
                await app.sleep(delay)
                continue
            # Let a batch that is already fetched reach the engine before the snapshot: the
            # consumer's task is runnable now, and one step of it applies a whole batch.
            await asyncio.sleep(0)
            if not throttle.try_start(clock()):
                continue
            changed.clear()
            if not await self.publish():
                # Nothing to publish: wait for a change, re-checking once per interval.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), throttle.interval)
                throttle.release()  # nothing was written: the next publish may start at once

    async def publish(self) -> bool:
        """Write the owned snapshot to Redis; False if there was nothing to write."""
        try:
            snapshot = self.owned_snapshot()
            if snapshot is None or not (snapshot["queues"] or snapshot["teams"]):
                return False
            await self.publisher.publish(snapshot)
        except Exception:
            # A failing snapshot must not stop the worker (which would stop processing too).
            now = time.monotonic()
            if now - self._last_publish_error > 60:
                self._last_publish_error = now
                log.exception("publishing the snapshot failed (next report in 60 s at most)")
        return True

    def run(self, loop: Any) -> int:
        """Run until SIGTERM/SIGINT (Faust's worker handles the signals and a clean stop)."""
        pin_malloc_mmap_threshold()
        # Again now that the app is built: its start-up objects are exempted from later scans.
        tune_garbage_collector()
        worker = faust.Worker(
            self.app,
            loop=loop,
            loglevel=self.env.log_level,
            quiet=True,
            redirect_stdouts=False,
        )
        try:
            worker.execute_from_commandline()
        except SystemExit as stop:
            return int(stop.code or 0)
        return 0
