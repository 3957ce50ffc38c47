"""The simulation's own records, kept for the ground truth (never derived from events).

Times are whole milliseconds of simulated time; `wait_seconds` and the like that the events
carry are computed from these same integers, so the truth and the event stream agree exactly.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

WAITING, ANSWERED, ABANDONED = 0, 1, 2


@dataclass(slots=True)
class CallRecord:
    """One leg of a call in one queue."""

    call_id: str
    queue: str
    offered_ms: int
    order: int = 0  # arrival order, breaks ties between calls offered in the same ms
    status: int = WAITING
    outcome_ms: int = 0  # answered or abandoned at
    agent_id: str = ""
    wrapup_ms: int | None = None  # after-call work ended (call.wrapup)
    talk_ms: int = 0
    hold_ms: int = 0
    acw_ms: int = 0

    @property
    def wait_ms(self) -> int:
        return self.outcome_ms - self.offered_ms


@dataclass(slots=True)
class AgentRecord:
    """An agent's fixed attributes and every state it took, in time order."""

    agent_id: str
    team: str
    queues: tuple[str, ...]
    times_ms: list[int] = field(default_factory=list)
    states: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Ledger:
    calls: list[CallRecord] = field(default_factory=list)
    agents: dict[str, AgentRecord] = field(default_factory=dict)
    event_times_ms: array = field(default_factory=lambda: array("q"))  # every event, in order
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (ms, expected reason)
