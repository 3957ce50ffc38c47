"""One batch of Kafka messages through the engine: what to apply, route and dead-letter.

Kept free of Faust so it can be driven by the worker's agent and by tests alike. The engine
mutates its (table-backed) mappings only inside these calls, i.e. while a batch is processed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiokafka.partitioner import murmur2

from streams.config import Settings
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine, FoldFailed, Outcome
from streams.kpi.events import (
    AGENT_STATE,
    INTERNAL_ERROR,
    INVALID_FIELD,
    INVALID_JSON,
    CallEvent,
    Event,
    Rejection,
)
from streams.live.deadletter import SourcePosition, dead_letter_key, dead_letter_value
from streams.live.jsonbytes import dumps
from streams.live.table_state import PartitionCursor

log = logging.getLogger(__name__)


class SourceMessage(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class BatchFailed(Exception):
    """Processing raised outside every guard: a fault of one message and a failed tally fold
    are settled where they happen (`_process_partition`), so only a fault in this module's own
    bookkeeping (building dead letters, or an engine call raising anything but `FoldFailed`)
    gets here. `done` holds the records of the partitions finished before the fault, which
    must still be sent; `unfinished` the messages of the failed partition and of those not yet
    begun, to be retried one by one (what the failed partition had applied then counts as
    duplicates: the last resort, not the policy)."""

    def __init__(self, done: list[OutgoingRecord], unfinished: list[SourceMessage]) -> None:
        super().__init__(f"processing failed with {len(unfinished)} message(s) unfinished")
        self.done = done
        self.unfinished = unfinished


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java's and aiokafka's) picks for `key`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class PartitionOracle:
    """Cached key -> partition, to check that a message sits on the partition of its queue."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._cache: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        partition = self._cache.get(name)
        if partition is None:
            if len(self._cache) > 100_000:  # names come from input: keep the cache bounded
                self._cache.clear()
            partition = self._cache[name] = partition_for_key(name.encode(), self.partitions)
        return partition


class BatchProcessor:
    """Feeds messages from the source, agent-state and routing topics to the engine."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        scope_topic: str,
        cursor: PartitionCursor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.scope_topic = scope_topic
        self.cursor = cursor
        self.clock = clock
        topics = settings.topics
        self.call_topics = frozenset(
            (topics.offered, topics.answered, topics.abandoned, topics.wrapup)
        )
        self.agent_topic = topics.agent_state
        self.dead_letter_topic = topics.dead_letter
        self.partition_of = PartitionOracle(settings.partitions)
        self._warned_agents: set[str] = set()

    @property
    def source_topics(self) -> tuple[str, ...]:
        return (*sorted(self.call_topics), self.agent_topic, self.scope_topic)

    def process(self, messages: Iterable[SourceMessage]) -> list[OutgoingRecord]:
        """Apply every message; return the routing and dead-letter records to send (before the
        batch's offsets may be committed).

        Messages are grouped by partition (Kafka orders only within one) so that the engine
        folds each partition's call events in one `process_many`, and every state key the
        engine creates meanwhile is attributed to that partition (`PartitionCursor`).
        """
        by_partition: dict[int, list[SourceMessage]] = {}
        for message in messages:
            by_partition.setdefault(message.partition, []).append(message)
        out: list[OutgoingRecord] = []
        now = self.clock()
        groups = list(by_partition.items())
        for index, (partition, group) in enumerate(groups):
            self.cursor.partition = partition
            finished = len(out)
            try:
                self._process_partition(partition, group, now, out)
            except Exception as error:
                del out[finished:]
                unfinished = [message for _, later in groups[index:] for message in later]
                raise BatchFailed(out, unfinished) from error
        return out

    def _process_partition(
        self, partition: int, group: list[SourceMessage], now: float, out: list[OutgoingRecord]
    ) -> None:
        engine = self.engine
        calls: list[SourceMessage] = []
        call_items: list[Event | Rejection] = []
        scopes: list[SourceMessage] = []
        scope_updates: list[dict[str, Any]] = []
        rejected: list[tuple[SourceMessage, Outcome]] = []
        for message in group:
            # A fault here (never bad input: that is rejected) fails this message alone; the
            # ones before it keep their effects and records, the ones after it still run.
            try:
                topic = message.topic
                raw = message.value
                if raw is None:
                    calls.append(message)
                    call_items.append(Rejection(INVALID_JSON, "empty message (no value)"))
                elif topic in self.call_topics:
                    item = self._call_item(raw, partition)
                    calls.append(message)
                    call_items.append(item)
                elif topic == self.agent_topic:
                    try:
                        outcome = engine.route_agent_state(raw, now)
                    except FoldFailed as failed:
                        outcome = self._folded_despite(failed.outcomes[0], failed)
                    if outcome.scope_updates:
                        self._route_agent(outcome, partition, out)
                    if outcome.status == "rejected":
                        rejected.append((message, outcome))
                elif topic == self.scope_topic:
                    update = self._scope_update(raw)
                    if isinstance(update, Rejection):
                        rejected.append((message, engine.process(update, now)))
                    else:
                        scopes.append(message)
                        scope_updates.append(update)
                else:  # not subscribed; only a wiring mistake gets here
                    log.error("message from unexpected topic %s ignored", topic)
            except Exception as error:
                log.error(
                    "message %s[%d]@%d raised; dead-lettered as internal_error",
                    message.topic,
                    message.partition,
                    message.offset,
                    exc_info=error,
                )
                rejected.append((message, self._fault(error)))
        if call_items:
            try:
                outcomes = engine.process_many(call_items, now)
            except FoldFailed as failed:
                outcomes = [self._folded_despite(outcome, failed) for outcome in failed.outcomes]
            for message, outcome in zip(calls, outcomes, strict=True):
                if outcome.status == "rejected":
                    rejected.append((message, outcome))
        if scope_updates:
            try:
                outcomes = engine.apply_scope_updates(scope_updates, now)
            except FoldFailed as failed:
                outcomes = [self._folded_despite(outcome, failed) for outcome in failed.outcomes]
            for message, outcome in zip(scopes, outcomes, strict=True):
                if outcome.status == "rejected":
                    rejected.append((message, outcome))
        for message, outcome in rejected:
            out.append(self._dead_letter(message, outcome, now))

    def _folded_despite(self, outcome: Outcome, failed: FoldFailed) -> Outcome:
        """The outcome to report for an item of a batch whose tally fold raised. The item was
        applied (calls waiting, agent counts, dedupe), so a retry would only find a duplicate;
        but its window, interval and day counts may be missing, which an accepted item is
        dead-lettered for as `internal_error` (and counted, besides being accepted). A routed
        agent state keeps its routing: the agent counts of its queues and team need it."""
        if not outcome.accepted:
            return outcome
        self.engine.stats.rejected[INTERNAL_ERROR] += 1
        detail = (
            f"applied, but the engine's flush after its batch raised {failed.error!r}: "
            "window, interval and day counts of its queue or team may be short"
        )
        return Outcome(
            "rejected",
            INTERNAL_ERROR,
            detail,
            outcome.event_type,
            outcome.event,
            outcome.scope_updates,
        )

    def _call_item(self, raw: bytes, partition: int) -> Event | Rejection:
        item = decode_event(raw)
        if isinstance(item, CallEvent):
            expected = self.partition_of(item.queue)
            if expected != partition:
                return Rejection(
                    INVALID_FIELD,
                    f"call event for queue {item.queue!r} is on partition {partition}, but its "
                    f"queue's partition is {expected}: key call events by their queue, with "
                    "Kafka's default murmur2 partitioner (librdkafka clients default to "
                    "another: set partitioner=murmur2_random)",
                    item.type,
                )
        elif not isinstance(item, Rejection) and item.type == AGENT_STATE:
            return Rejection(
                INVALID_FIELD,
                f"agent.state sent to a call topic (send it to {self.agent_topic!r})",
                item.type,
            )
        return item

    def _route_agent(self, outcome: Outcome, partition: int, out: list[OutgoingRecord]) -> Outcome:
        # Admission already happened (the agent's latest state lives on this partition); the
        # key only matters for keeping one agent's events in order, which Kafka guarantees per
        # partition. A mis-keyed agent is still routed, but said so in the log once per agent.
        # Built whole before any is kept: a fault midway must not send half the routing.
        out.extend(
            [
                OutgoingRecord(self.scope_topic, name.encode(), dumps(update))
                for name, update in outcome.scope_updates
            ]
        )
        agent_id = outcome.event.agent_id if outcome.event is not None else ""
        if agent_id and self.partition_of(agent_id) != partition:
            self._warn_misrouted_agent(agent_id, partition)
        return outcome

    def _warn_misrouted_agent(self, agent_id: str, partition: int) -> None:
        if agent_id not in self._warned_agents and len(self._warned_agents) < 1000:
            self._warned_agents.add(agent_id)
            log.warning(
                "agent.state of agent %r arrived on partition %d, not its key's partition %d: "
                "key agent.state messages by agent_id, or its out-of-order check is unreliable",
                agent_id,
                partition,
                self.partition_of(agent_id),
            )

    def _scope_update(self, raw: bytes) -> dict[str, Any] | Rejection:
        try:
            update: Any = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return Rejection(INVALID_JSON, f"scope update: {error}", AGENT_STATE)
        if not isinstance(update, dict):
            return Rejection(INVALID_JSON, "scope update is not a JSON object", AGENT_STATE)
        return update

    def internal_error(self, message: SourceMessage, error: Exception) -> OutgoingRecord:
        """Dead-letter a message whose processing raised (a fault, counted as
        `internal_error` so it shows in ccpulse_events_rejected_total)."""
        if isinstance(error, BatchFailed) and isinstance(error.__cause__, Exception):
            error = error.__cause__
        return self._dead_letter(message, self._fault(error), self.clock())

    def _fault(self, error: Exception) -> Outcome:
        self.engine.stats.rejected[INTERNAL_ERROR] += 1
        return Outcome("rejected", INTERNAL_ERROR, f"processing raised {error!r}")

    def _dead_letter(self, message: SourceMessage, outcome: Outcome, now: float) -> OutgoingRecord:
        source = SourcePosition(message.topic, message.partition, message.offset)
        detail = outcome.detail
        key = dead_letter_key(message.key)
        if key is None and message.key is not None:
            detail = f"{detail} (message key of {len(message.key)} bytes not kept)"
        value = dead_letter_value(message.value, outcome.reason or "unknown", detail, source, now)
        return OutgoingRecord(self.dead_letter_topic, key, value)
