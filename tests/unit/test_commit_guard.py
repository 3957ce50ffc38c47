"""No offset commit after a record of a processed batch failed to reach Kafka.

The worker acknowledges a batch once its changelog, routing and dead-letter records are handed
to the producer; Faust commits acknowledged offsets after `producer.flush()`, which returns
when every record is done, delivered *or failed*. The commit must not go out after a failure.
No Kafka here: the consumer's thread is replaced by a recorder.
"""

from __future__ import annotations

import asyncio

import pytest
from faust.types import TP

from streams.config import Settings
from streams.live.app import LiveWorker
from streams.live.environment import (
    KafkaConnection,
    RedisConnection,
    WorkerEnvironment,
    WorkerTuning,
)

OFFSETS = {TP("cc.call.offered", 0): 5}


def worker_with_recorded_commits(bulk: bool) -> tuple[LiveWorker, list]:
    """A worker whose consumer thread records commits instead of sending them, and whose
    crash does nothing (the real one stops the app). Call inside a running event loop."""
    env = WorkerEnvironment(KafkaConnection(), RedisConnection(), tuning=WorkerTuning(bulk=bulk))
    worker = LiveWorker(Settings(), env)
    commits: list = []

    async def commit(offsets):
        commits.append(dict(offsets))
        return True

    worker.app.consumer._thread.commit = commit
    worker.app.crash = lambda error: asyncio.sleep(0)
    return worker, commits


@pytest.mark.parametrize("bulk", [True, False])
def test_no_commit_once_a_record_failed_to_reach_kafka(bulk):
    async def scenario() -> tuple[list, list]:
        worker, commits = worker_with_recorded_commits(bulk)
        consumer = worker.app.consumer
        assert await consumer._commit(OFFSETS) is True  # nothing failed yet: committed
        before = list(commits)

        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(RuntimeError("MessageSizeTooLargeError"))
        worker._on_delivery(failed)
        assert await consumer._commit(OFFSETS) is False
        return before, commits

    before, commits = asyncio.run(scenario())
    assert before == [OFFSETS]
    assert commits == [OFFSETS]  # the commit after the failure never reached the consumer


@pytest.mark.parametrize("bulk", [True, False])
def test_no_commit_once_sending_a_batch_raised(bulk):
    """A send that raises (a record over the producer's batch size, a producer gone) loses the
    batch's state records just as a failed delivery does."""

    async def scenario() -> list:
        worker, commits = worker_with_recorded_commits(bulk)

        async def send_fails(grouped):
            raise ValueError("record for cc-engine-state-changelog larger than a producer batch")

        worker._send_grouped = send_fails
        with pytest.raises(ValueError):
            await worker.process_batch([])
        assert await worker.app.consumer._commit(OFFSETS) is False
        return commits

    assert asyncio.run(scenario()) == []
