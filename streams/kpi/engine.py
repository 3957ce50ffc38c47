"""The KPI engine: admission (duplicates, lateness, order), state updates and snapshots.

Time: the engine's `now` is, in replay (`now=None`), the highest accepted event time; live, the
highest wall-clock time passed in. Everything the engine keeps is needed by some snapshot at an
`as_of >= now`; what no such snapshot can need is skipped or expired, which keeps memory bounded
by queues, agents, waiting calls and kept buckets, not by the number of events.

Agent states are routed: an `agent.state` event is admitted once per agent (`route_agent_state`)
and becomes one scope update per queue and team it concerns (`apply_scope_update`). Live, those
updates travel through a topic keyed by queue/team so each worker owns whole queues; in replay
`ingest` does both steps in-process. Scope updates are idempotent.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.config import Settings
from streams.kpi import tally as T
from streams.kpi.decode import KEY_SEPARATOR as SEP
from streams.kpi.decode import decode_event
from streams.kpi.events import (
    AGENT_STATE,
    AVAILABLE,
    CALL_ABANDONED,
    CALL_ANSWERED,
    CALL_OFFERED,
    FUTURE,
    INVALID_FIELD,
    LATE,
    LOGGED_OUT,
    NOT_READY,
    ON_CALL,
    OUT_OF_ORDER,
    WRAP_UP,
    AgentStateEvent,
    CallEvent,
    Event,
    Rejection,
)
from streams.kpi.state import EngineState
from streams.kpi.timegrid import TimeGrid

ABSENT = "absent"  # scope update: the agent no longer serves this queue / belongs to this team
QUEUE_SCOPE = "q"
TEAM_SCOPE = "t"
WAITING, RESOLVED = 0, 1
_SPELL_POINTS = {
    ON_CALL: (T.BUSY_STARTS, T.BUSY_ENDS),
    WRAP_UP: (T.BUSY_STARTS, T.BUSY_ENDS),
    AVAILABLE: (T.IDLE_STARTS, T.IDLE_ENDS),
}
_SCOPE_STATES = (LOGGED_OUT, AVAILABLE, ON_CALL, WRAP_UP, NOT_READY)
# Expiry heap entry kinds.
_SLIDE, _SEEN, _LEG, _PERIOD = 0, 1, 2, 3
_PERIOD_GRACE = 3600 + 1  # keep an interval/day tally a DST hour past its nominal end


@dataclass(slots=True)
class CallTotals:
    offered: int = 0
    answered: int = 0
    answered_within_threshold: int = 0
    abandoned: int = 0


@dataclass(slots=True)
class EventStats:
    """Process-local counts (Prometheus counters, the snapshot's `events`)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    by_type: Counter = field(default_factory=Counter)
    last_event_ts: float | None = None
    calls: dict[str, CallTotals] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": {reason: n for reason, n in sorted(self.rejected.items()) if n},
        }


@dataclass(slots=True)
class Outcome:
    status: str  # "accepted" | "duplicate" | "rejected" | "ignored"
    reason: str | None = None
    detail: str = ""
    event_type: str | None = None
    event: Event | None = None
    scope_updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


class _Rolling:
    """In-memory running totals of one scope's rolling windows (derived; rebuilt on demand)."""

    __slots__ = ("starts", "totals")

    def __init__(self, starts: list[float]) -> None:
        self.starts = starts
        self.totals = [T.empty() for _ in starts]


class _Derived:
    """Indexes derived from the mappings; dropped by `invalidate_caches` and rebuilt lazily."""

    def __init__(self) -> None:
        self.expiry: list[tuple] = []
        self.rolling: dict[str, _Rolling] = {}
        self.agent_counts: dict[str, Counter] = {}
        self.waiting: dict[str, dict[str, float]] = {}
        self.known: set[str] = set()


class Engine:
    def __init__(self, settings: Settings, state: EngineState | None = None) -> None:
        self.settings = settings
        self.state = state if state is not None else EngineState.in_memory()
        self.grid = TimeGrid(settings.bucket_seconds, settings.interval_minutes, settings.timezone)
        self.windows = list(settings.window_seconds.items())
        self._window_lengths = [seconds for _, seconds in self.windows]
        self._longest = max(self._window_lengths)
        self._longest_index = self._window_lengths.index(self._longest)
        self._lateness = settings.allowed_lateness_seconds
        self._max_wait = settings.max_wait_seconds
        self.stats = EventStats()
        self.now = -math.inf
        self.max_ts = -math.inf
        self._derived: _Derived | None = None

    # ----------------------------------------------------------------------------- ingestion
    def ingest(self, raw: bytes | str, now: float | None = None) -> Outcome:
        """Decode, admit and apply one message; agent states are routed in-process."""
        return self.process(decode_event(raw), now)

    def process(self, item: Event | Rejection, now: float | None = None) -> Outcome:
        outcome = self._admit(item, now)
        if outcome.accepted:
            event = outcome.event
            if isinstance(event, CallEvent):
                self._apply_call(event)
            else:
                for _, update in outcome.scope_updates:
                    self._apply_update(update)
                outcome.scope_updates = []
        return outcome

    def route_agent_state(self, raw: bytes | str, now: float | None = None) -> Outcome:
        """Admit an agent.state message on its agent's partition; return its scope updates."""
        item = decode_event(raw)
        if not isinstance(item, Rejection) and item.type != AGENT_STATE:
            return self._reject(
                INVALID_FIELD, f"{item.type} sent to the agent-state path", item.type
            )
        return self._admit(item, now)

    def apply_scope_update(self, update: dict[str, Any], now: float | None = None) -> Outcome:
        """Apply a routed agent-state update on the partition of its queue or team."""
        if now is not None:
            self._advance(now)
        try:
            applied = self._apply_update(update)
        except (KeyError, TypeError, ValueError) as error:
            return self._reject(INVALID_FIELD, f"malformed scope update: {error!r}", AGENT_STATE)
        self._expire()
        return Outcome("accepted" if applied else "duplicate", event_type=AGENT_STATE)

    def _admit(self, item: Event | Rejection, now: float | None) -> Outcome:
        if isinstance(item, Rejection):
            return self._reject(item.reason, item.detail, item.event_type)
        ts = item.ts
        if now is not None:
            if ts > now + self.settings.max_future_seconds:
                return self._reject(
                    FUTURE,
                    f"ts is {ts - now:.0f} s ahead of the clock (max "
                    f"max_future_seconds={self.settings.max_future_seconds:g})",
                    item.type,
                )
            self._advance(now)
        derived = self._index()
        if item.event_id in self.state.seen:
            self.stats.duplicates += 1
            return Outcome("duplicate", event_type=item.type, event=item)
        if ts < self.now - self._lateness:
            return self._reject(
                LATE,
                f"ts is {self.now - ts:.0f} s old (allowed_lateness_seconds={self._lateness:g})",
                item.type,
            )
        updates: list[tuple[str, dict[str, Any]]] = []
        if isinstance(item, AgentStateEvent):
            latest = self.state.router.get(item.agent_id)
            if latest is not None and ts < latest[0]:
                return self._reject(
                    OUT_OF_ORDER,
                    f"agent {item.agent_id!r} already has a state at a later ts",
                    item.type,
                )
            updates = self._route(item, latest)
        self.state.seen[item.event_id] = [ts]
        heapq.heappush(derived.expiry, (ts + self._lateness, _SEEN, item.event_id, ts))
        if ts > self.max_ts:
            self.max_ts = ts
        if now is None:
            self._advance(ts)
        stats = self.stats
        stats.accepted += 1
        stats.by_type[item.type] += 1
        if stats.last_event_ts is None or ts > stats.last_event_ts:
            stats.last_event_ts = ts
        self._expire()
        return Outcome("accepted", event_type=item.type, event=item, scope_updates=updates)

    def _reject(self, reason: str, detail: str, event_type: str | None) -> Outcome:
        self.stats.rejected[reason] += 1
        return Outcome("rejected", reason, detail, event_type)

    def _advance(self, now: float) -> None:
        if now > self.now:
            self.now = now

    # ----------------------------------------------------------------------------- call events
    def _apply_call(self, event: CallEvent) -> None:
        queue = event.queue
        scope = QUEUE_SCOPE + SEP + queue
        self._register(scope, event.ts)
        totals = self.stats.calls.get(queue)
        if totals is None:
            totals = self.stats.calls[queue] = CallTotals()
        kind = event.type
        if kind == CALL_OFFERED:
            totals.offered += 1
            self._offer_leg(queue, event.call_id, event.ts)
            updates: tuple = ((T.OFFERED, 1),)
        elif kind == CALL_ANSWERED:
            wait = event.wait_seconds
            within = int(wait <= self.settings.for_queue(queue).service_level_threshold_seconds)
            totals.answered += 1
            totals.answered_within_threshold += within
            self._resolve_leg(queue, event.call_id, event.ts)
            updates = (
                (T.ANSWERED, 1),
                (T.ANSWERED_WITHIN_THRESHOLD, within),
                (T.WAIT_SECONDS, wait),
            )
        elif kind == CALL_ABANDONED:
            wait = event.wait_seconds
            queue_settings = self.settings.for_queue(queue)
            totals.abandoned += 1
            self._resolve_leg(queue, event.call_id, event.ts)
            updates = (
                (T.ABANDONED, 1),
                (T.SHORT_ABANDONED, int(wait < queue_settings.short_abandon_seconds)),
                (
                    T.ABANDONED_WITHIN_THRESHOLD,
                    int(wait <= queue_settings.service_level_threshold_seconds),
                ),
            )
        else:  # call.wrapup
            updates = ((T.HANDLED, 1), (T.HANDLE_SECONDS, event.handle_seconds))
        self._tally(scope, self.grid.bucket_of(event.ts), updates)

    def _offer_leg(self, queue: str, call_id: str, ts: float) -> None:
        key = queue + SEP + call_id
        legs = self.state.legs
        leg = legs.get(key)
        if leg is not None and leg[0] == RESOLVED:
            del legs[key]  # its answer or abandon arrived first
            return
        if leg is not None and leg[1] <= ts:
            return
        legs[key] = [WAITING, ts]
        derived = self._index()
        derived.waiting.setdefault(queue, {})[call_id] = ts
        heapq.heappush(derived.expiry, (ts + self._max_wait, _LEG, key, ts))

    def _resolve_leg(self, queue: str, call_id: str, ts: float) -> None:
        key = queue + SEP + call_id
        legs = self.state.legs
        leg = legs.get(key)
        if leg is None:
            legs[key] = [RESOLVED, ts]
            heapq.heappush(self._index().expiry, (ts + self._lateness, _LEG, key, ts))
        elif leg[0] == WAITING:
            del legs[key]
            self._index().waiting[queue].pop(call_id, None)

    # ----------------------------------------------------------------------------- agent states
    def _route(self, event: AgentStateEvent, latest: list | None) -> list[tuple[str, dict]]:
        old_queues = latest[2] if latest is not None else ()
        old_team = latest[3] if latest is not None else None
        targets = [
            (QUEUE_SCOPE, queue, ABSENT) for queue in old_queues if queue not in event.queues
        ]
        targets += [(QUEUE_SCOPE, queue, event.state) for queue in event.queues]
        if old_team is not None and old_team != event.team:
            targets.append((TEAM_SCOPE, old_team, ABSENT))
        targets.append((TEAM_SCOPE, event.team, event.state))
        self.state.router[event.agent_id] = [event.ts, event.state, list(event.queues), event.team]
        return [
            (
                name,
                {
                    "scope": scope,
                    "name": name,
                    "agent_id": event.agent_id,
                    "state": state,
                    "ts": event.ts,
                    "event_id": event.event_id,
                },
            )
            for scope, name, state in targets
        ]

    def _apply_update(self, update: dict[str, Any]) -> bool:
        scope_kind, name, agent_id = update["scope"], update["name"], update["agent_id"]
        state, ts = update["state"], float(update["ts"])
        if scope_kind not in (QUEUE_SCOPE, TEAM_SCOPE) or (
            state != ABSENT and state not in _SCOPE_STATES
        ):
            raise ValueError(f"scope {scope_kind!r} / state {state!r}")
        scope = scope_kind + SEP + name
        key = scope + SEP + agent_id
        agents = self.state.agents
        record = agents.get(key)
        if record is not None and (ts < record[1] or (ts == record[1] and state == record[0])):
            return False  # redelivered or superseded: updates are idempotent
        self._register(scope, ts)
        counts = self._index().agent_counts.setdefault(scope, Counter())
        bucket = self.grid.bucket_of(ts)
        if record is not None and record[0] != ABSENT:
            counts[record[0]] -= 1
            points = _SPELL_POINTS.get(record[0])
            if points is not None:
                self._tally(scope, bucket, _spell_point(points[1], ts, bucket))
        if state != ABSENT:
            counts[state] += 1
            points = _SPELL_POINTS.get(state)
            if points is not None:
                self._tally(scope, bucket, _spell_point(points[0], ts, bucket))
        if record is not None or state != ABSENT:
            agents[key] = [state, ts]
        if ts > self.max_ts:
            self.max_ts = ts
        return True

    # ----------------------------------------------------------------------------- tallies
    def _register(self, scope: str, ts: float) -> None:
        derived = self._index()
        if scope not in derived.known:
            derived.known.add(scope)
            if scope not in self.state.scopes:
                self.state.scopes[scope] = [ts]

    def _tally(self, scope: str, bucket: int, updates: Iterable[tuple[int, float]]) -> None:
        """Add `updates` to the scope's bucket, interval and day tallies that a snapshot at an
        `as_of >= now` can still read."""
        buckets = self.state.buckets
        now = self.now
        derived = self._index()
        if not bucket + self._longest < now:
            key = f"{scope}{SEP}b{SEP}{bucket}"
            values = buckets.get(key)
            if values is None:
                values = T.empty()
                for index, length in enumerate(self._window_lengths):
                    heapq.heappush(derived.expiry, (bucket + length, _SLIDE, scope, bucket, index))
            for index, amount in updates:
                values[index] += amount
            buckets[key] = values
            rolling = derived.rolling.get(scope)
            if rolling is None:
                rolling = derived.rolling[scope] = self._new_rolling()
            for start, total in zip(rolling.starts, rolling.totals, strict=True):
                if bucket >= start:
                    for index, amount in updates:
                        total[index] += amount
        interval, day = self.grid.periods_of_bucket(bucket)
        if now == -math.inf:
            current_interval = current_day = -math.inf
        else:
            current_interval, current_day = self.grid.periods_of_bucket(self.grid.bucket_of(now))
        if interval >= current_interval:
            self._tally_period(
                f"{scope}{SEP}i{SEP}{interval}",
                updates,
                interval + self.settings.interval_minutes * 60,
            )
        if day >= current_day:
            self._tally_period(f"{scope}{SEP}d{SEP}{day}", updates, day + 86400)

    def _tally_period(self, key: str, updates: Iterable[tuple[int, float]], end: int) -> None:
        buckets = self.state.buckets
        values = buckets.get(key)
        if values is None:
            values = T.empty()
            heapq.heappush(self._index().expiry, (end + _PERIOD_GRACE, _PERIOD, key, 0))
        for index, amount in updates:
            values[index] += amount
        buckets[key] = values

    def _new_rolling(self) -> _Rolling:
        if self.now == -math.inf:
            return _Rolling([-math.inf] * len(self.windows))
        return _Rolling(
            [self.grid.ceil_bucket(self.now - length) for length in self._window_lengths]
        )

    # ----------------------------------------------------------------------------- expiry
    def _expire(self) -> None:
        expiry = self._index().expiry
        now = self.now
        while expiry and expiry[0][0] < now:
            entry = heapq.heappop(expiry)
            kind = entry[1]
            if kind == _SLIDE:
                self._slide_out(entry[2], entry[3], entry[4])
            elif kind == _SEEN:
                seen = self.state.seen
                value = seen.get(entry[2])
                if value is not None and value[0] == entry[3]:
                    del seen[entry[2]]
            elif kind == _LEG:
                self._expire_leg(entry[2], entry[3])
            else:
                self.state.buckets.pop(entry[2], None)

    def _slide_out(self, scope: str, bucket: int, index: int) -> None:
        """Bucket `bucket` has left window `index` for every snapshot from now on."""
        key = f"{scope}{SEP}b{SEP}{bucket}"
        rolling = self._index().rolling.get(scope)
        if rolling is not None and rolling.starts[index] <= bucket:
            values = self.state.buckets.get(key)
            if values is not None:
                T.add_into(rolling.totals[index], values, -1)
            rolling.starts[index] = bucket + self.settings.bucket_seconds
        if index == self._longest_index:
            self.state.buckets.pop(key, None)

    def _expire_leg(self, key: str, ts: float) -> None:
        legs = self.state.legs
        leg = legs.get(key)
        if leg is None or leg[1] != ts:
            return
        del legs[key]
        if leg[0] == WAITING:
            queue, call_id = key.split(SEP, 1)
            self._index().waiting.get(queue, {}).pop(call_id, None)

    # ----------------------------------------------------------------------------- derived
    def invalidate_caches(self) -> None:
        """Forget derived indexes; the next call rebuilds them from the mappings (after a
        worker restored its tables or its partitions changed)."""
        self._derived = None

    def _index(self) -> _Derived:
        derived = self._derived
        if derived is None:
            derived = self._derived = self._rebuild()
        return derived

    def _rebuild(self) -> _Derived:
        derived = self._derived = _Derived()
        state = self.state
        derived.known.update(state.scopes.keys())
        for event_id, (ts, *_) in list(state.seen.items()):
            derived.expiry.append((ts + self._lateness, _SEEN, event_id, ts))
        for key, (status, ts, *_) in list(state.legs.items()):
            if status == WAITING:
                queue, call_id = key.split(SEP, 1)
                derived.waiting.setdefault(queue, {})[call_id] = ts
                derived.expiry.append((ts + self._max_wait, _LEG, key, ts))
            else:
                derived.expiry.append((ts + self._lateness, _LEG, key, ts))
        for key, (agent_state, *_) in list(state.agents.items()):
            if agent_state != ABSENT:
                scope = key.rsplit(SEP, 1)[0]
                derived.agent_counts.setdefault(scope, Counter())[agent_state] += 1
        for key, values in list(state.buckets.items()):
            tag, name, grain, start_text = key.split(SEP)
            scope, start = tag + SEP + name, int(start_text)
            if grain != "b":
                length = self.settings.interval_minutes * 60 if grain == "i" else 86400
                derived.expiry.append((start + length + _PERIOD_GRACE, _PERIOD, key, 0))
                continue
            rolling = derived.rolling.get(scope)
            if rolling is None:
                rolling = derived.rolling[scope] = self._new_rolling()
            for index, length in enumerate(self._window_lengths):
                derived.expiry.append((start + length, _SLIDE, scope, start, index))
                if start >= rolling.starts[index]:
                    T.add_into(rolling.totals[index], values)
        heapq.heapify(derived.expiry)
        return derived

    # ----------------------------------------------------------------------------- snapshots
    def live_as_of(self, wall_clock: float) -> float:
        """The live snapshot time: the wall clock, but always after every applied event (a
        source clock running ahead would otherwise put events after `as_of`). Whole ms."""
        moment = max(wall_clock, self.now, self.max_ts + 0.001)
        return math.ceil(moment * 1000) / 1000

    def snapshot(
        self, as_of: float, queues: Iterable[str] | None = None, teams: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """The DESIGN snapshot at `as_of`. Read-only for the mappings. Exact when `as_of` is a
        multiple of bucket_seconds; events at or after `as_of` must not have been applied."""
        derived = self._index()
        queue_names = sorted(key[2:] for key in derived.known if key[0] == QUEUE_SCOPE)
        team_names = sorted(key[2:] for key in derived.known if key[0] == TEAM_SCOPE)
        if queues is not None:
            wanted = set(queues)
            queue_names = [name for name in queue_names if name in wanted]
        if teams is not None:
            wanted = set(teams)
            team_names = [name for name in team_names if name in wanted]
        return {
            "as_of": format_time(as_of),
            "queues": {name: self.queue_snapshot(name, as_of) for name in queue_names},
            "teams": {name: self.team_snapshot(name, as_of) for name in team_names},
            "events": self.stats.as_dict(),
        }

    def queue_snapshot(self, queue: str, as_of: float) -> dict[str, Any]:
        scope = QUEUE_SCOPE + SEP + queue
        settings = self.settings.for_queue(queue)
        counts = self._index().agent_counts.get(scope, Counter())
        busy_open, idle_open = counts[ON_CALL] + counts[WRAP_UP], counts[AVAILABLE]
        windows = {
            name: T.queue_window(values, settings, start, as_of, busy_open, idle_open)
            for name, start, values in self._window_tallies(scope, as_of)
        }
        waiting_since = [
            ts
            for ts in self._index().waiting.get(queue, {}).values()
            if as_of - ts <= self._max_wait
        ]
        staffed = sum(counts[state] for state in _SCOPE_STATES if state != LOGGED_OUT)
        return {
            "calls_waiting": len(waiting_since),
            "oldest_waiting_seconds": as_of - min(waiting_since) if waiting_since else None,
            "agents": {
                "staffed": staffed,
                "available": counts[AVAILABLE],
                "on_call": counts[ON_CALL],
                "wrap_up": counts[WRAP_UP],
                "not_ready": counts[NOT_READY],
            },
            "windows": windows,
        }

    def team_snapshot(self, team: str, as_of: float) -> dict[str, Any]:
        scope = TEAM_SCOPE + SEP + team
        counts = self._index().agent_counts.get(scope, Counter())
        busy_open, idle_open = counts[ON_CALL] + counts[WRAP_UP], counts[AVAILABLE]
        return {
            "windows": {
                name: T.team_window(values, start, as_of, busy_open, idle_open)
                for name, start, values in self._window_tallies(scope, as_of)
            }
        }

    def _window_tallies(self, scope: str, as_of: float) -> list[tuple[str, int, list]]:
        """(window name, window start, tally) for every rolling window, interval and today."""
        result = []
        rolling = self._index().rolling.get(scope)
        for index, (name, length) in enumerate(self.windows):
            start = self.grid.ceil_bucket(as_of - length)
            values = self._rolling_total(scope, rolling, index, start, as_of)
            result.append((name, start, values))
        interval, day = self.grid.periods_of_bucket(self.grid.bucket_of(as_of))
        for name, start, grain in (("interval", interval, "i"), ("today", day, "d")):
            values = self.state.buckets.get(f"{scope}{SEP}{grain}{SEP}{start}") or T.empty()
            result.append((name, start, values))
        return result

    def _rolling_total(
        self, scope: str, rolling: _Rolling | None, index: int, start: int, as_of: float
    ) -> list:
        """Slide the running total of window `index` to start at `start` and return it."""
        if rolling is None:
            return T.empty()
        step = self.settings.bucket_seconds
        current = rolling.starts[index]
        buckets = self.state.buckets
        if start < current or start - current > self._window_lengths[index]:
            total = T.empty()
            for bucket in range(start, self.grid.ceil_bucket(as_of), step):
                values = buckets.get(f"{scope}{SEP}b{SEP}{bucket}")
                if values is not None:
                    T.add_into(total, values)
            rolling.totals[index] = total
        else:
            total = rolling.totals[index]
            for bucket in range(int(current), start, step):
                values = buckets.get(f"{scope}{SEP}b{SEP}{bucket}")
                if values is not None:
                    T.add_into(total, values, -1)
        rolling.starts[index] = start
        return rolling.totals[index]


def _spell_point(offset: int, ts: float, bucket: int) -> tuple[tuple[int, float], ...]:
    return ((offset, 1), (offset + 1, ts - bucket), (offset + 2, bucket))


def format_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()
