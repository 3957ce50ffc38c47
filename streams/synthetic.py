"""Synthetic event streams for benchmarks and load tests: call cycles over many queues and
agents, in time order (the simulator in streams.simulator is the realistic one)."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator

import orjson


def call_cycle_events(
    count: int,
    queues: int = 50,
    agents: int = 500,
    start: float = 1_795_000_000.0,
    calls_per_second: float = 20.0,
    seed: int = 7,
) -> Iterator[bytes]:
    """`count` JSON lines: per call an offer, an answer or abandon, agent states and a wrap-up,
    in time order, with agents serving two queues each."""
    rng = random.Random(seed)
    queue_names = [f"queue-{index:03d}" for index in range(queues)]
    agent_queues = {
        f"agent-{index:04d}": [queue_names[index % queues], queue_names[(index * 7 + 3) % queues]]
        for index in range(agents)
    }
    agent_ids = list(agent_queues)
    pending: list[tuple[float, str, dict]] = []
    produced = 0
    ts = start
    call = 0
    while produced < count:
        ts += rng.expovariate(calls_per_second)
        call += 1
        agent = agent_ids[call % agents]
        queue = agent_queues[agent][call % 2]
        team = f"team-{int(agent[-4:]) % 20:02d}"
        wait = rng.expovariate(1 / 15)
        call_id = f"call-{call}"
        base = {"call_id": call_id, "queue": queue}
        lines = [{"type": "call.offered", "event_id": f"{call_id}-o", "ts": ts, **base}]
        if rng.random() < 0.06:
            lines.append(
                {
                    "type": "call.abandoned",
                    "event_id": f"{call_id}-x",
                    "ts": ts + wait,
                    "wait_seconds": wait,
                    **base,
                }
            )
        else:
            talk = rng.expovariate(1 / 240)
            acw = rng.expovariate(1 / 40)
            answered = ts + wait
            state = {
                "type": "agent.state",
                "agent_id": agent,
                "queues": agent_queues[agent],
                "team": team,
            }
            lines += [
                {
                    "type": "call.answered",
                    "event_id": f"{call_id}-a",
                    "ts": answered,
                    "agent_id": agent,
                    "wait_seconds": wait,
                    **base,
                },
                {**state, "event_id": f"{call_id}-s1", "ts": answered, "state": "on_call"},
                {**state, "event_id": f"{call_id}-s2", "ts": answered + talk, "state": "wrap_up"},
                {
                    **state,
                    "event_id": f"{call_id}-s3",
                    "ts": answered + talk + acw,
                    "state": "available",
                },
                {
                    "type": "call.wrapup",
                    "event_id": f"{call_id}-w",
                    "ts": answered + talk + acw,
                    "agent_id": agent,
                    "talk_seconds": talk,
                    "hold_seconds": 0,
                    "acw_seconds": acw,
                    **base,
                },
            ]
        for line in lines:
            heapq.heappush(pending, (line["ts"], line["event_id"], line))
        while pending and pending[0][0] <= ts and produced < count:
            yield orjson.dumps(heapq.heappop(pending)[2])
            produced += 1
