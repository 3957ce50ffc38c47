"""The discrete-event simulation: a heap of timed actions, processed in time order.

Calls arrive per queue (Poisson, rate from the scenario's intraday profile), go to the
longest-idle available agent serving the queue, else wait FIFO in the queue; a caller whose
patience runs out abandons. An agent answers (`on_call` for talk + hold), does after-call work
(`wrap_up`), then takes the oldest call waiting in any queue it serves, or becomes `available`.
Shifts log agents in and out (a busy agent logs out after the call), breaks put them
`not_ready` with a reason (a busy agent goes on break after the call).

The clock is whole milliseconds, so every time and duration an event carries is exact and the
ground truth (`streams.simulator.truth`) computed from the `Ledger` matches it to the bit.
Every emitted event has the simulation time of the action that produced it, so the output is in
time order by construction.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Iterator
from typing import Any

from streams.simulator.ledger import (
    ABANDONED,
    ANSWERED,
    WAITING,
    AgentRecord,
    CallRecord,
    Ledger,
)
from streams.simulator.sampling import ArrivalProfile, sampler
from streams.simulator.scenario import BreakSpec, Scenario
from streams.simulator.timestamps import Stamp, iso_stamp

LOGGED_OUT, AVAILABLE, ON_CALL, WRAP_UP, NOT_READY = (
    "logged_out",
    "available",
    "on_call",
    "wrap_up",
    "not_ready",
)
# Heap action kinds; the order of the numbers does not matter (ties break on a sequence number).
_ARRIVE, _ABANDON, _TALK_END, _ACW_END, _LOGIN, _SHIFT_END, _BREAK, _BREAK_END = range(8)
# A queue's heap of idle agents is rebuilt when stale entries outnumber live agents this much.
_IDLE_HEAP_SLACK = 4

Event = dict[str, Any]


class _Queue:
    __slots__ = (
        "acw",
        "arrivals",
        "hold",
        "idle",
        "idle_limit",
        "name",
        "patience",
        "talk",
        "waiting",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.waiting: deque[CallRecord] = deque()
        # (idle since ms, agent order, token, agent); entries whose token is stale are skipped.
        self.idle: list[tuple[int, int, int, _Agent]] = []
        self.idle_limit = 64


class _Agent:
    __slots__ = (
        "agent_id",
        "break_ms",
        "call",
        "group",
        "leaving",
        "order",
        "pending_break",
        "queue_names",
        "queues",
        "record",
        "state",
        "team",
        "token",
    )

    def __init__(self, agent_id: str, team: str, queues: list[_Queue], order: int) -> None:
        self.agent_id = agent_id
        self.team = team
        self.queues = queues
        self.queue_names = [queue.name for queue in queues]
        self.order = order
        self.state = LOGGED_OUT
        self.token = 0  # bumped on every state change: invalidates queued idle/break entries
        self.leaving = False  # shift over, log out once the current call is done
        self.pending_break: BreakSpec | None = None
        self.call: CallRecord | None = None
        self.record: AgentRecord | None = None
        self.group = 0
        self.break_ms = 0


class Simulation:
    """One run of a scenario from `start` (epoch seconds). Iterate `events(end)`."""

    def __init__(
        self,
        scenario: Scenario,
        start: float,
        seed: int | None = None,
        ledger: Ledger | None = None,
        stamp: Stamp | None = None,
        id_prefix: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.start_ms = round(start * 1000)
        self.seed = scenario.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.ledger = ledger
        self.stamp = stamp or iso_stamp()
        # Ids carry the seed and the start, so runs from different starts never collide in a
        # live worker's duplicate filter, while one (seed, start) always gives the same ids.
        self.prefix = (
            id_prefix if id_prefix is not None else f"s{self.seed}-{self.start_ms // 1000}-"
        )
        self.day_ms = scenario.day_seconds * 1000
        self.heap: list[tuple] = []
        self.sequence = 0
        self.event_count = 0
        self.call_count = 0
        self.out: list[tuple[int, Event]] = []
        self.queues: dict[str, _Queue] = {}
        self.profiles: dict[str, ArrivalProfile] = {}
        for spec in scenario.queues:
            queue = _Queue(spec.name)
            queue.talk = sampler(spec.talk, self.rng)
            queue.hold = sampler(spec.hold, self.rng)
            queue.acw = sampler(spec.acw, self.rng)
            queue.patience = sampler(spec.patience, self.rng) if spec.patience else None
            self.queues[spec.name] = queue
            self.profiles[spec.name] = ArrivalProfile(scenario, spec, self.start_ms)
        self.agents: list[_Agent] = []
        per_team: dict[str, int] = {}
        for group_index, group in enumerate(scenario.groups):
            for _ in range(group.count):
                number = per_team[group.team] = per_team.get(group.team, 0) + 1
                agent = _Agent(
                    f"{group.team}-{number:03d}",
                    group.team,
                    [self.queues[name] for name in group.queues],
                    len(self.agents),
                )
                agent.group = group_index
                if ledger is not None:
                    agent.record = ledger.agents[agent.agent_id] = AgentRecord(
                        agent.agent_id, agent.team, tuple(agent.queue_names)
                    )
                self.agents.append(agent)
        for queue in self.queues.values():
            queue.idle_limit = _IDLE_HEAP_SLACK * max(16, len(self.agents))

    # ------------------------------------------------------------------------------ the loop
    def events(self, end: float | None = None) -> Iterator[tuple[int, Event]]:
        """(simulated ms, event) in time order, for times before `end` (None: forever)."""
        end_ms = None if end is None else round(end * 1000)
        self._schedule_day(0, end_ms)
        heap = self.heap
        out = self.out
        pop = heapq.heappop
        handlers = {
            _ARRIVE: self._arrive,
            _ABANDON: self._abandon,
            _TALK_END: self._talk_end,
            _ACW_END: self._acw_end,
            _LOGIN: self._login,
            _SHIFT_END: self._shift_end,
            _BREAK: self._break_due,
            _BREAK_END: self._break_end,
        }
        while heap:
            moment, _, kind, subject = pop(heap)
            if end_ms is not None and moment >= end_ms:
                break
            handlers[kind](moment, subject)
            if out:
                yield from out
                out.clear()

    def _schedule_day(self, cycle: int, end_ms: int | None) -> None:
        """Arrivals start now; logins of cycle 0 (later cycles are scheduled by each login)."""
        expovariate = self.rng.expovariate
        for name, profile in self.profiles.items():
            first = profile.next_after(self.start_ms, expovariate)
            if first is not None:
                self._push(first, _ARRIVE, self.queues[name])
        for agent in self.agents:
            self._schedule_login(agent, cycle, end_ms)

    def _push(self, moment: int, kind: int, subject: Any) -> None:
        self.sequence += 1
        heapq.heappush(self.heap, (moment, self.sequence, kind, subject))

    def _minute_ms(self, cycle: int, minute_of_day: float) -> int:
        return (
            self.start_ms
            + cycle * self.day_ms
            + round((minute_of_day - self.scenario.opens_minute) * 60_000)
        )

    def _schedule_login(self, agent: _Agent, cycle: int, end_ms: int | None) -> None:
        group = self.scenario.groups[agent.group]
        spread = self.scenario.login_spread_minutes
        moment = self._minute_ms(cycle, group.shift_start_minute + self.rng.random() * spread)
        if end_ms is None or moment < end_ms:
            self._push(moment, _LOGIN, (agent, cycle, end_ms))

    # ------------------------------------------------------------------------------ emitting
    def _event_id(self) -> str:
        self.event_count += 1
        return f"{self.prefix}{self.event_count}"

    def _emit(self, moment: int, event: Event) -> None:
        self.out.append((moment, event))
        if self.ledger is not None:
            self.ledger.event_times_ms.append(moment)

    def _set_state(self, agent: _Agent, moment: int, state: str, reason: str | None = None) -> None:
        agent.state = state
        agent.token += 1
        event = {
            "type": "agent.state",
            "event_id": self._event_id(),
            "ts": self.stamp(moment),
            "agent_id": agent.agent_id,
            "state": state,
            "queues": agent.queue_names,
            "team": agent.team,
        }
        if reason is not None:
            event["reason"] = reason
        self._emit(moment, event)
        record = agent.record
        if record is not None:
            record.times_ms.append(moment)
            record.states.append(state)

    # ------------------------------------------------------------------------------ calls
    def _arrive(self, moment: int, queue: _Queue) -> None:
        following = self.profiles[queue.name].next_after(moment, self.rng.expovariate)
        if following is not None:
            self._push(following, _ARRIVE, queue)
        self.call_count += 1
        call = CallRecord(f"{self.prefix}c{self.call_count}", queue.name, moment, self.call_count)
        if self.ledger is not None:
            self.ledger.calls.append(call)
        self._emit(
            moment,
            {
                "type": "call.offered",
                "event_id": self._event_id(),
                "ts": self.stamp(moment),
                "call_id": call.call_id,
                "queue": queue.name,
            },
        )
        agent = self._longest_idle(queue)
        if agent is not None:
            self._answer(call, agent, moment)
            return
        queue.waiting.append(call)
        if queue.patience is not None:
            self._push(moment + queue.patience(), _ABANDON, call)

    def _longest_idle(self, queue: _Queue) -> _Agent | None:
        idle = queue.idle
        while idle:
            _, _, token, agent = heapq.heappop(idle)
            if agent.token == token:
                return agent
        return None

    def _abandon(self, moment: int, call: CallRecord) -> None:
        if call.status != WAITING:
            return
        call.status = ABANDONED
        call.outcome_ms = moment
        self._emit(
            moment,
            {
                "type": "call.abandoned",
                "event_id": self._event_id(),
                "ts": self.stamp(moment),
                "call_id": call.call_id,
                "queue": call.queue,
                "wait_seconds": (moment - call.offered_ms) / 1000,
            },
        )

    def _answer(self, call: CallRecord, agent: _Agent, moment: int) -> None:
        queue = self.queues[call.queue]
        call.status = ANSWERED
        call.outcome_ms = moment
        call.agent_id = agent.agent_id
        call.talk_ms = queue.talk()
        call.hold_ms = queue.hold()
        call.acw_ms = queue.acw()
        agent.call = call
        self._emit(
            moment,
            {
                "type": "call.answered",
                "event_id": self._event_id(),
                "ts": self.stamp(moment),
                "call_id": call.call_id,
                "queue": call.queue,
                "agent_id": agent.agent_id,
                "wait_seconds": (moment - call.offered_ms) / 1000,
            },
        )
        self._set_state(agent, moment, ON_CALL)
        self._push(moment + call.talk_ms + call.hold_ms, _TALK_END, agent)

    def _talk_end(self, moment: int, agent: _Agent) -> None:
        self._set_state(agent, moment, WRAP_UP)
        self._push(moment + agent.call.acw_ms, _ACW_END, agent)

    def _acw_end(self, moment: int, agent: _Agent) -> None:
        call = agent.call
        agent.call = None
        call.wrapup_ms = moment
        self._emit(
            moment,
            {
                "type": "call.wrapup",
                "event_id": self._event_id(),
                "ts": self.stamp(moment),
                "call_id": call.call_id,
                "queue": call.queue,
                "agent_id": agent.agent_id,
                "talk_seconds": call.talk_ms / 1000,
                "hold_seconds": call.hold_ms / 1000,
                "acw_seconds": call.acw_ms / 1000,
            },
        )
        self._free(agent, moment)

    def _free(self, agent: _Agent, moment: int) -> None:
        """The agent can take work again: leave, go on a due break, take a call, or idle."""
        if agent.leaving:
            self._log_out(agent, moment)
            return
        due = agent.pending_break
        if due is not None:
            agent.pending_break = None
            self._start_break(agent, due, moment)
            return
        call = self._oldest_waiting(agent)
        if call is not None:
            self._answer(call, agent, moment)
            return
        self._set_state(agent, moment, AVAILABLE)
        entry = (moment, agent.order, agent.token, agent)
        for queue in agent.queues:
            idle = queue.idle
            heapq.heappush(idle, entry)
            if len(idle) > queue.idle_limit:
                # Entries of agents who left or were picked from another queue pile up in a
                # queue that rarely gets calls; keep only the live ones.
                queue.idle = [item for item in idle if item[3].token == item[2]]
                heapq.heapify(queue.idle)

    def _oldest_waiting(self, agent: _Agent) -> CallRecord | None:
        best: CallRecord | None = None
        best_queue: _Queue | None = None
        for queue in agent.queues:
            waiting = queue.waiting
            while waiting and waiting[0].status != WAITING:
                waiting.popleft()
            if waiting:
                head = waiting[0]
                if best is None or (head.offered_ms, head.order) < (best.offered_ms, best.order):
                    best, best_queue = head, queue
        if best_queue is not None:
            best_queue.waiting.popleft()
        return best

    # ------------------------------------------------------------------------------ shifts
    def _login(self, moment: int, subject: tuple[_Agent, int, int | None]) -> None:
        agent, cycle, end_ms = subject
        group = self.scenario.groups[agent.group]
        # Shift end first: if the next day's login falls in the same ms, it must come after.
        self._push(self._minute_ms(cycle, group.shift_end_minute), _SHIFT_END, agent)
        self._schedule_login(agent, cycle + 1, end_ms)
        spread = self.scenario.break_spread_minutes
        for spec in group.breaks:
            at = self._minute_ms(cycle, spec.at_minute + self.rng.random() * spread)
            self._push(at, _BREAK, (agent, spec))
        if agent.state == LOGGED_OUT:
            self._free(agent, moment)
        else:  # still finishing the previous shift's last call: just stay
            agent.leaving = False

    def _shift_end(self, moment: int, agent: _Agent) -> None:
        agent.pending_break = None
        if agent.state in (AVAILABLE, NOT_READY):
            self._log_out(agent, moment)
        elif agent.state != LOGGED_OUT:
            agent.leaving = True

    def _log_out(self, agent: _Agent, moment: int) -> None:
        agent.leaving = False
        agent.pending_break = None
        self._set_state(agent, moment, LOGGED_OUT)

    def _break_due(self, moment: int, subject: tuple[_Agent, BreakSpec]) -> None:
        agent, spec = subject
        if agent.state == AVAILABLE:
            self._start_break(agent, spec, moment)
        elif agent.state in (ON_CALL, WRAP_UP) and not agent.leaving:
            agent.pending_break = spec

    def _start_break(self, agent: _Agent, spec: BreakSpec, moment: int) -> None:
        self._set_state(agent, moment, NOT_READY, spec.reason)
        self._push(moment + round(spec.minutes * 60_000), _BREAK_END, (agent, agent.token))

    def _break_end(self, moment: int, subject: tuple[_Agent, int]) -> None:
        agent, token = subject
        if agent.token == token:  # still on that break (not logged out meanwhile)
            self._free(agent, moment)
