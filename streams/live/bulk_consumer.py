"""A Faust consumer that hands source-topic messages to the worker in batches.

Why: Faust delivers every message through `Consumer._drain_messages` -> conductor -> channel
queue -> stream, awaiting `wait_first(...)` (two new tasks) per message. On the benchmark
machine that path tops out near 7,000 messages/s before any work is done, while aiokafka alone
reads about 95,000/s. This subclass keeps everything else of Faust (group membership, the
co-partitioning assignor, table recovery, offset tracking and commits, rebalance handling) and
only replaces the per-message hand-off for the topics in `bulk_topics`: each fetched batch goes
to `bulk_handler` in one call.

Offset bookkeeping follows Faust's contract: a message is registered as unacknowledged when it
is read (so a rebalance waits for the batch in progress, `stream_wait_empty`) and acknowledged
by the handler only after its effects were handed to the producer; Faust commits acknowledged
offsets after flushing the producer. Pinned to faust-streaming 0.15.3 (`_drain_messages`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaFaustConsumer
from mode.utils.futures import notify

BulkHandler = Callable[[list[Any]], Awaitable[None]]
DeliveryFailure = Callable[[], BaseException | None]


def _no_failure() -> BaseException | None:
    return None


# Faust fixes the broker-side fetch wait at 1.5 s. aiokafka leaves a partition whose records
# are still buffered out of the next fetch, so a fetch in flight for the other partitions can
# hold that partition back for up to this long: it bounds the produce->Redis latency tail.
FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by AIOKafkaConsumer.start()
        contact = self.consumer.kafka_contact  # the thread serves a GuardedConsumer
        if contact is not None:
            # Every request of the consumer goes through its client's send(): an answer to any
            # of them (fetch, heartbeat, metadata, commit) shows Kafka is reachable.
            client = consumer._client
            send = client.send

            async def send_noting_answers(*args: Any, **kwargs: Any) -> Any:
                response = await send(*args, **kwargs)
                contact.answered()
                return response

            client.send = send_noting_answers
        return consumer


class _BatchInFlight:
    """Stands in `_unacked_messages` while a batch is processed, so a rebalance waits for it."""

    __slots__ = ("__weakref__",)


class GuardedConsumer(AIOKafkaFaustConsumer):
    """Faust's consumer, but no offset commit once a state, routing or dead-letter record
    failed to reach Kafka (`delivery_failure` returns the error).

    Why: the worker acknowledges a batch once its records are handed to the producer, and
    Faust commits acknowledged offsets after `producer.flush()`, which returns when every
    record is *done*, delivered or failed. The failure callback only schedules the worker's
    crash, so the commit that follows the flush would still go out and move the offsets past
    events whose changelog records never reached Kafka: the restart would neither have their
    effect nor read them again (lost, or half applied)."""

    delivery_failure: DeliveryFailure = staticmethod(_no_failure)
    kafka_contact: Any = None  # a KafkaContact told of every answer from Kafka, if set

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit(self, offsets: Any) -> bool:
        failure = self.delivery_failure()
        if failure is not None:
            self.log.error(
                "offsets not committed: a record of a processed batch could not be written "
                "to Kafka (%r); the restart reads those events again",
                failure,
            )
            return False
        return await super()._commit(offsets)


class BulkConsumer(GuardedConsumer):
    bulk_handler: BulkHandler | None = None
    bulk_topics: frozenset[str] = frozenset()

    def ack_records(self, records: list[Any]) -> None:
        """Acknowledge processed records (Faust's `ack`, once per batch instead of per
        message): their offsets become committable at the next commit."""
        by_key: dict[tuple[str, int], list[int]] = {}
        for record in records:
            by_key.setdefault((record.topic, record.partition), []).append(record.offset)
        by_tp = {self._new_topicpartition(*key): offsets for key, offsets in by_key.items()}
        acked_count = 0
        for tp, offsets in by_tp.items():
            committed = self._committed_offset[tp]
            acked_index = self._acked_index[tp]
            acked = self._acked[tp]
            for offset in offsets:
                if (committed is None or offset >= committed) and offset not in acked_index:
                    acked_index.add(offset)
                    acked.append(offset)
                    acked_count += 1
        self._n_acked += acked_count
        notify(self._waiting_for_ack)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - needs Kafka
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        acks_enabled_for = self.app.topics.acks_enabled_for
        unacked = self._unacked_messages
        bulk_topics = self.bulk_topics
        handler = self.bulk_handler
        to_message = self._to_message
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                await asyncio.sleep(0)
                if self.should_stop:
                    break
                if not self.flow_active:
                    await self.wait(self.can_resume_flow)
                    continue
                records, active = await self._wait_next_records(1.0)
                generation_id = self.app.consumer_generation_id
                if not records or self.should_stop:
                    continue
                if not self.flow_active:
                    # Fetched while the flow was being suspended (a rebalance starts): drop
                    # them and seek back to the committed offsets, as Faust's getmany does.
                    try:
                        await self.perform_seek()
                    except Exception as error:
                        self.log.warning("seek back to committed offsets failed: %r", error)
                    continue
                batch: list[Any] = []
                marker = _BatchInFlight()
                unacked.add(marker)
                try:
                    for tp, tp_records in records.items():
                        if (
                            active is not None
                            and tp not in active
                            and tp not in self._buffered_partitions
                        ):
                            continue
                        r_offset = get_read_offset(tp)
                        for record in tp_records:
                            offset = record.offset
                            if r_offset is not None and offset < r_offset:
                                continue  # already read (Faust drops these too)
                            if r_offset and offset - r_offset > 1 and acks_enabled_for(tp.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            r_offset = offset
                            if handler is not None and tp.topic in bulk_topics:
                                batch.append(record)
                            else:
                                await self.wait_first(
                                    callback(to_message(tp, record)), self.suspend_flow.wait()
                                )
                                if self.app.consumer_generation_id != generation_id:
                                    break  # as Faust's getmany: a rebalance started
                        if r_offset is not None:
                            set_read_offset(tp, r_offset)
                    if batch:
                        # Shielded: stopping the fetcher (a rebalance) must not cut a batch
                        # between applying it to the engine and handing its records over.
                        await asyncio.shield(handler(batch))
                finally:
                    unacked.discard(marker)
                commit_every = self._commit_every
                if commit_every is not None and self._n_acked >= commit_every:
                    self._n_acked = 0
                    await self.commit()
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
