"""An event whose application raises (an engine or storage fault, never bad input) is rejected
as `internal_error` on its own: the rest of its batch is applied once, routed agent states keep
their routing, and a redelivery of the batch changes nothing more.

Faults are injected through the engine's injectable state: a mapping that refuses to store one
key, as a failing table would."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import orjson
import pytest

from streams.config import Settings
from streams.kpi.decode import decode_event
from streams.kpi.engine import ENGINE_LOGGER, Engine, FoldFailed
from streams.kpi.events import INTERNAL_ERROR
from streams.kpi.state import EngineState
from streams.live.app import LiveWorker
from streams.live.deadletter import decode_dead_letter
from streams.live.environment import KafkaConnection, RedisConnection, WorkerEnvironment
from streams.live.processor import BatchProcessor
from streams.live.table_state import PartitionCursor

T0 = 1_795_000_000.0


class StorageFault(RuntimeError):
    pass


class RefusingMapping(dict):
    """A state mapping that raises when a key containing `marker` is stored (the first
    `times` times)."""

    def __init__(self, marker: str, times: float = math.inf) -> None:
        super().__init__()
        self.marker = marker
        self.times = times

    def __setitem__(self, key: str, value: Any) -> None:
        if self.marker in key and self.times > 0:
            self.times -= 1
            raise StorageFault(f"cannot store {key!r}")
        super().__setitem__(key, value)


def engine_refusing(mapping: str, marker: str, times: float = math.inf) -> Engine:
    state = EngineState.in_memory()
    setattr(state, mapping, RefusingMapping(marker, times))
    return Engine(Settings(), state)


class Message:
    def __init__(self, topic: str, partition: int, offset: int, key: bytes, value: bytes):
        self.topic, self.partition, self.offset = topic, partition, offset
        self.key, self.value = key, value


def offered(queue: str, call: str, ts: float) -> bytes:
    event = {"type": "call.offered", "event_id": f"{call}-o", "ts": ts}
    return orjson.dumps(event | {"call_id": call, "queue": queue})


def agent_state(agent: str, queues: list[str], ts: float, state: str = "available") -> bytes:
    event = {"type": "agent.state", "event_id": f"{agent}-{ts}", "ts": ts, "agent_id": agent}
    return orjson.dumps(event | {"state": state, "queues": queues, "team": "north"})


def offered_counts(engine: Engine, as_of: float) -> dict[str, int]:
    queues = engine.snapshot(as_of)["queues"]
    return {name: queue["windows"]["15m"]["offered"] for name, queue in queues.items()}


def test_a_call_event_that_faults_is_rejected_alone_and_the_rest_of_the_batch_applies_once(
    caplog: pytest.LogCaptureFixture,
):
    engine = engine_refusing("legs", "call-bad")
    batch = [
        offered("sales", "call-1", T0),
        offered("billing", "call-bad", T0 + 1),
        offered("support", "call-2", T0 + 2),
    ]
    outcomes = engine.process_many([decode_event(line) for line in batch])

    assert [outcome.status for outcome in outcomes] == ["accepted", "rejected", "accepted"]
    fault = outcomes[1]
    assert fault.reason == INTERNAL_ERROR
    assert fault.event_type == "call.offered"
    assert "StorageFault" in fault.detail and "call-bad" in fault.detail
    (logged,) = [record for record in caplog.records if record.name == ENGINE_LOGGER]
    assert "'call-bad-o'" in logged.getMessage()
    assert logged.exc_info is not None and logged.exc_info[0] is StorageFault
    stats = engine.stats
    assert (stats.accepted, stats.duplicates, dict(stats.rejected)) == (2, 0, {INTERNAL_ERROR: 1})
    assert stats.by_type["call.offered"] == 2
    counts = offered_counts(engine, T0 + 10)
    # The leg is stored before anything is counted: the faulty call left no trace in figures.
    assert (counts["sales"], counts["billing"], counts["support"]) == (1, 0, 1)
    assert stats.calls["billing"].offered == 0

    # Redelivered (a crash before the commit): nothing is applied or rejected a second time.
    again = engine.process_many([decode_event(line) for line in batch])
    assert [outcome.status for outcome in again] == ["duplicate"] * 3
    assert (stats.accepted, stats.duplicates, dict(stats.rejected)) == (2, 3, {INTERNAL_ERROR: 1})
    counts = offered_counts(engine, T0 + 10)
    assert (counts["sales"], counts["support"]) == (1, 1)


def test_an_agent_state_that_faults_in_routing_leaves_the_other_agents_routed():
    engine = engine_refusing("router", "agent-bad")
    outcomes = [
        engine.route_agent_state(agent_state(agent, ["sales"], T0 + index))
        for index, agent in enumerate(["agent-1", "agent-bad", "agent-2"])
    ]
    assert [outcome.status for outcome in outcomes] == ["accepted", "rejected", "accepted"]
    assert outcomes[1].reason == INTERNAL_ERROR
    assert outcomes[1].event_type == "agent.state"
    assert [name for name, _ in outcomes[2].scope_updates] == ["sales", "north"]
    assert engine.stats.by_type["agent.state"] == 2
    assert dict(engine.stats.rejected) == {INTERNAL_ERROR: 1}


def test_a_scope_update_that_faults_is_rejected_alone():
    engine = engine_refusing("agents", "agent-bad")
    updates = [
        {"scope": "q", "name": queue, "agent_id": agent, "state": "available", "ts": T0}
        | {"event_id": f"{agent}-1"}
        for queue, agent in [("sales", "agent-1"), ("billing", "agent-bad"), ("support", "agent-2")]
    ]
    outcomes = engine.apply_scope_updates(updates, T0)
    assert [outcome.status for outcome in outcomes] == ["accepted", "rejected", "accepted"]
    assert outcomes[1].reason == INTERNAL_ERROR
    assert "StorageFault" in outcomes[1].detail
    queues = engine.snapshot(T0 + 1)["queues"]
    assert queues["sales"]["agents"]["available"] == 1
    assert queues["support"]["agents"]["available"] == 1
    # The record is stored before the counts change: no agent without a record.
    assert queues.get("billing", {}).get("agents", {}).get("available", 0) == 0


def test_a_scope_update_redelivered_after_its_fault_counts_its_agent_once():
    engine = engine_refusing("agents", "agent-bad", times=1)
    update = {"scope": "q", "name": "billing", "agent_id": "agent-bad", "state": "available"}
    update |= {"ts": T0, "event_id": "bad-1"}
    assert engine.apply_scope_updates([update], T0)[0].reason == INTERNAL_ERROR
    assert engine.apply_scope_updates([update], T0)[0].status == "accepted"
    assert engine.snapshot(T0 + 1)["queues"]["billing"]["agents"]["available"] == 1


def test_a_faulted_event_does_not_advance_the_clocks():
    """DESIGN: only accepted events advance "now" in replay (and the last event time)."""
    engine = engine_refusing("legs", "call-bad")
    engine.process_many([decode_event(offered("sales", "call-1", T0))])
    (fault,) = engine.process_many([decode_event(offered("sales", "call-bad", T0 + 1000))])
    assert fault.reason == INTERNAL_ERROR
    assert engine.stats.last_event_ts == T0
    # 600 s after the last accepted event: within the 300 s lateness of T0 + 600 itself.
    (later,) = engine.process_many([decode_event(offered("sales", "call-2", T0 + 600))])
    assert later.status == "accepted", later.detail


def test_a_fault_while_folding_tallies_never_folds_a_change_twice():
    # The bucket tally is folded, then storing the interval tally fails.
    engine = engine_refusing("buckets", "billing\x1fi\x1f", times=1)
    batch = [offered("billing", "call-1", T0), offered("sales", "call-2", T0 + 1)]
    with pytest.raises(FoldFailed) as failed:
        engine.process_many([decode_event(line) for line in batch])
    assert isinstance(failed.value.error, StorageFault)
    assert [outcome.status for outcome in failed.value.outcomes] == ["accepted", "accepted"]
    engine.process_many([decode_event(offered("support", "call-3", T0 + 2))])
    counts = offered_counts(engine, T0 + 10)
    assert counts["billing"] == 1  # was 2: the next flush folded the pending change again
    assert counts.get("sales", 0) <= 1


def test_a_fault_storing_a_bucket_leaves_the_windows_as_the_stored_buckets_make_them():
    """Storing billing's second bucket of the batch fails: the first bucket was stored, so the
    windows count its call (they are added the change of a scope's buckets together, after its
    last fold), as an engine restarted over the same mappings does."""
    engine = engine_refusing("buckets", f"billing\x1fb\x1f{T0 + 10:.0f}", times=1)
    batch = [offered("billing", "call-1", T0), offered("billing", "call-2", T0 + 10)]
    with pytest.raises(FoldFailed):
        engine.process_many([decode_event(line) for line in batch])
    live = engine.snapshot(T0 + 20)["queues"]["billing"]["windows"]
    restarted = Engine(Settings(), engine.state).snapshot(T0 + 20)["queues"]["billing"]["windows"]
    assert live == restarted
    assert live["15m"]["offered"] == 1


def test_an_agent_move_whose_routing_faults_is_routed_in_full_next_time():
    engine = engine_refusing("router", "agent-x", times=0)
    engine.route_agent_state(agent_state("agent-x", ["sales"], T0))
    engine.state.router.times = 1  # the move to billing cannot be stored
    moved = engine.route_agent_state(agent_state("agent-x", ["billing"], T0 + 1))
    assert moved.reason == INTERNAL_ERROR
    again = engine.route_agent_state(agent_state("agent-x", ["billing"], T0 + 2, "not_ready"))
    assert again.status == "accepted"
    assert ("sales", "absent") in [(name, u["state"]) for name, u in again.scope_updates]


@pytest.mark.parametrize("faulty", ["agent-bad", "agent-1"])
def test_processor_routes_every_agent_of_a_batch_but_the_faulty_one(faulty: str):
    """The live path: before, the fault escaped the batch, the worker retried it message by
    message, and the agents routed before the fault counted as duplicates and were never
    routed."""
    settings = Settings()
    engine = engine_refusing("router", faulty)
    processor = BatchProcessor(
        engine, settings, "ccpulse-agent-scope", PartitionCursor(), clock=lambda: T0 + 60
    )
    topic = settings.topics.agent_state
    agents = ["agent-1", "agent-bad", "agent-2"]
    # One partition, so the three are one engine batch (a mis-keyed agent is still routed).
    messages = [
        Message(topic, 0, offset, agent.encode(), agent_state(agent, ["sales"], T0 + offset))
        for offset, agent in enumerate(agents)
    ]
    records = processor.process(messages)

    routed = [orjson.loads(r.value)["agent_id"] for r in records if r.topic != "cc.dead-letter"]
    assert routed == [a for a in agents if a != faulty for _ in ("sales", "north")]
    (letter,) = [decode_dead_letter(r.value) for r in records if r.topic == "cc.dead-letter"]
    assert letter["reason"] == INTERNAL_ERROR
    assert letter["source"] == {"topic": topic, "partition": 0, "offset": agents.index(faulty)}
    assert letter["original"] == messages[agents.index(faulty)].value


def fault_processor(engine: Engine) -> BatchProcessor:
    return BatchProcessor(
        engine, Settings(), "ccpulse-agent-scope", PartitionCursor(), clock=lambda: T0 + 60
    )


def dead_letters(records: list) -> list[dict]:
    return [decode_dead_letter(r.value) for r in records if r.topic == "cc.dead-letter"]


def routed_scopes(records: list) -> list[tuple[str, str]]:
    updates = [orjson.loads(r.value) for r in records if r.topic == "ccpulse-agent-scope"]
    return [(update["agent_id"], update["name"]) for update in updates]


def test_a_fold_fault_keeps_its_partitions_routing_and_dead_letters_what_it_applied_once():
    """Storing billing's interval tally fails while the partition's call events are folded. The
    agent routed earlier in the same partition keeps its routing, the call that was applied is
    dead-lettered as internal_error (its counts may be short), the garbage line is rejected
    once, for its own reason. Before, the whole partition was retried one by one: the agent
    was a duplicate by then and never routed, the garbage line was counted twice."""
    settings = Settings()
    engine = engine_refusing("buckets", "billing\x1fi\x1f", times=1)
    topic = settings.topics.offered
    batch = [
        Message(
            settings.topics.agent_state, 1, 0, b"agent-1", agent_state("agent-1", ["sales"], T0)
        ),
        Message(topic, 1, 1, b"billing", offered("billing", "call-1", T0 + 1)),
        Message(topic, 1, 2, b"billing", b"not json"),
    ]
    records = fault_processor(engine).process(batch)

    assert routed_scopes(records) == [("agent-1", "sales"), ("agent-1", "north")]
    letters = dead_letters(records)
    assert [(letter["reason"], letter["source"]["offset"]) for letter in letters] == [
        (INTERNAL_ERROR, 1),
        ("invalid_json", 2),
    ]
    assert "applied, but the engine's flush" in letters[0]["detail"]
    assert "StorageFault" in letters[0]["detail"]
    assert letters[0]["original"] == batch[1].value
    assert dict(engine.stats.rejected) == {INTERNAL_ERROR: 1, "invalid_json": 1}
    # Applied once: redelivered, nothing more is counted or routed.
    again = fault_processor(engine).process(batch)
    assert routed_scopes(again) == []
    assert [letter["reason"] for letter in dead_letters(again)] == ["invalid_json"]
    assert engine.stats.duplicates == 2
    assert engine.snapshot(T0 + 10)["queues"]["billing"]["calls_waiting"] == 1


def test_an_agent_state_whose_flush_faults_is_still_routed_and_reported():
    settings = Settings()
    engine = engine_refusing("scopes", "\x1fclock", times=1)
    message = Message(
        settings.topics.agent_state, 3, 0, b"agent-1", agent_state("agent-1", ["sales"], T0)
    )
    records = fault_processor(engine).process([message])
    assert routed_scopes(records) == [("agent-1", "sales"), ("agent-1", "north")]
    (letter,) = dead_letters(records)
    assert letter["reason"] == INTERNAL_ERROR
    assert "applied, but the engine's flush" in letter["detail"]


def test_a_scope_update_batch_whose_flush_faults_dead_letters_what_it_applied():
    engine = engine_refusing("scopes", "\x1fclock", times=0)
    engine.process_many([decode_event(offered("sales", "call-1", T0))])
    engine.state.scopes.times = 1
    update = {"scope": "q", "name": "sales", "agent_id": "agent-1", "state": "available"}
    update |= {"ts": T0 + 1, "event_id": "agent-1-1"}
    value = orjson.dumps(update)
    messages = [
        Message("ccpulse-agent-scope", 0, 0, b"sales", value),
        Message("ccpulse-agent-scope", 0, 1, b"sales", value),  # a redelivery: a duplicate
    ]
    records = fault_processor(engine).process(messages)
    (letter,) = dead_letters(records)
    assert (letter["reason"], letter["source"]["offset"]) == (INTERNAL_ERROR, 0)
    assert engine.snapshot(T0 + 2)["queues"]["sales"]["agents"]["available"] == 1


def test_a_message_that_faults_in_the_processor_fails_alone(monkeypatch: pytest.MonkeyPatch):
    settings = Settings()
    processor = fault_processor(Engine(settings))
    decode = processor._call_item

    def call_item(raw: bytes, partition: int):
        if b"call-bad" in raw:
            raise RuntimeError("cannot read call-bad")
        return decode(raw, partition)

    monkeypatch.setattr(processor, "_call_item", call_item)
    topic = settings.topics.offered
    agent_topic = settings.topics.agent_state
    batch = [
        Message(agent_topic, 0, 0, b"agent-1", agent_state("agent-1", ["sales"], T0)),
        Message(topic, 0, 1, b"sales", offered("sales", "call-1", T0 + 1)),
        Message(topic, 0, 2, b"sales", offered("sales", "call-bad", T0 + 2)),
        Message(topic, 0, 3, b"sales", offered("sales", "call-2", T0 + 3)),
        Message(agent_topic, 0, 4, b"agent-2", agent_state("agent-2", ["sales"], T0 + 4)),
    ]
    records = processor.process(batch)
    assert [agent for agent, _ in routed_scopes(records)] == ["agent-1"] * 2 + ["agent-2"] * 2
    (letter,) = dead_letters(records)
    assert (letter["reason"], letter["source"]["offset"]) == (INTERNAL_ERROR, 2)
    assert "cannot read call-bad" in letter["detail"]
    assert offered_counts(processor.engine, T0 + 10) == {"sales": 2}
    assert dict(processor.engine.stats.rejected) == {INTERNAL_ERROR: 1}


class EngineFailingOnce:
    """An engine whose next `process_many` raises `failure` (a compiled engine's methods
    cannot be patched)."""

    def __init__(self, engine: Engine, failure: Exception) -> None:
        self.engine = engine
        self.failures = [failure]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def process_many(self, items: list, now: float | None = None) -> list:
        if self.failures:
            raise self.failures.pop()
        return self.engine.process_many(items, now)


def test_worker_keeps_the_records_of_partitions_finished_before_a_batch_fault():
    """A fault outside the processor's guards (here: the engine raising something other than
    a failed fold) fails its partition; the routing of partitions finished before it is still
    sent, and only the rest is retried one by one. Before, the whole batch was retried and
    agent-1, a duplicate by then, was never routed."""
    settings = Settings()
    env = WorkerEnvironment(KafkaConnection(), RedisConnection())
    engine = EngineFailingOnce(Engine(settings), RuntimeError("engine bug"))

    async def scenario() -> list:
        worker = LiveWorker(settings, env)
        worker.processor = BatchProcessor(
            engine, settings, worker.scope_topic, worker.cursor, clock=lambda: T0 + 60
        )
        sent: list = []

        async def capture(grouped):
            sent.extend(record for records in grouped.values() for record in records)

        worker._send_grouped = capture
        await worker.process_batch(
            [
                Message(
                    settings.topics.agent_state,
                    0,
                    0,
                    b"agent-1",
                    agent_state("agent-1", ["sales"], T0),
                ),
                Message(
                    settings.topics.offered, 1, 0, b"billing", offered("billing", "call-1", T0)
                ),
            ]
        )
        return sent

    sent = asyncio.run(scenario())
    routed = [orjson.loads(value)["name"] for key, value in sent if value and b'"scope"' in value]
    assert routed == ["sales", "north"]
    assert not engine.failures  # the fault happened
    assert offered_counts(engine, T0 + 10) == {"billing": 1}  # retried alone, applied
