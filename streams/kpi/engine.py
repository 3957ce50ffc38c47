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
import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from streams.config import QueueSettings, Settings
from streams.kpi import tally as T
from streams.kpi.decode import KEY_SEPARATOR as SEP
from streams.kpi.decode import MAX_TS, decode_batch, decode_event
from streams.kpi.events import (
    AGENT_STATE,
    AVAILABLE,
    CALL_ABANDONED,
    CALL_ANSWERED,
    CALL_OFFERED,
    CALL_WRAPUP,
    EVENT_TYPES,
    FUTURE,
    INTERNAL_ERROR,
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
from streams.kpi.staffing import StaffingLoad, staffing_load, staffing_object
from streams.kpi.state import EngineState, StateMapping
from streams.kpi.timegrid import TimeGrid

ABSENT: Final = (
    "absent"  # scope update: the agent no longer serves this queue / belongs to this team
)
# The engine's clock (now, newest applied ts) lives in the `scopes` mapping under this key, so an
# engine over recovered tables keeps judging lateness and choosing as_of as before the restart.
CLOCK_KEY: Final = SEP + "clock"
# Named, not __name__: the compiled copy of this module logs under the same name.
ENGINE_LOGGER: Final = "streams.kpi.engine"
_log: Final = logging.getLogger(ENGINE_LOGGER)
QUEUE_SCOPE: Final = "q"
TEAM_SCOPE: Final = "t"
WAITING: Final = 0
RESOLVED: Final = 1
_SCOPE_STATES: Final = (LOGGED_OUT, AVAILABLE, ON_CALL, WRAP_UP, NOT_READY)
_SPELL_STARTS: Final = {ON_CALL: T.BUSY_STARTS, WRAP_UP: T.BUSY_STARTS, AVAILABLE: T.IDLE_STARTS}
_SPELL_ENDS: Final = {ON_CALL: T.BUSY_ENDS, WRAP_UP: T.BUSY_ENDS, AVAILABLE: T.IDLE_ENDS}
_SPELL_KIND: Final = {ON_CALL: "busy", WRAP_UP: "busy", AVAILABLE: "idle"}


def _spell_points(ended: str, started: str) -> tuple[int | None, int | None] | None:
    """The tally offsets of the spell points a change from `ended` to `started` adds, or None.
    busy -> busy (on_call -> wrap_up) and idle -> idle add nothing: an end and a start at the
    same instant cancel in every window."""
    kind = _SPELL_KIND.get(ended)
    if kind is not None and kind == _SPELL_KIND.get(started):
        return None
    end_points, start_points = _SPELL_ENDS.get(ended), _SPELL_STARTS.get(started)
    if end_points is None and start_points is None:
        return None
    return end_points, start_points


# States by position (_state_index): the transitions' and the agent counts' index.
_STATE_ORDER: Final = (*_SCOPE_STATES, ABSENT)
_LOGGED_OUT_AT: Final = 0
_AVAILABLE_AT: Final = 1
_ON_CALL_AT: Final = 2
_WRAP_UP_AT: Final = 3
_NOT_READY_AT: Final = 4
_ABSENT_AT: Final = 5
assert _STATE_ORDER == (LOGGED_OUT, AVAILABLE, ON_CALL, WRAP_UP, NOT_READY, ABSENT)
_STATE_AT: Final = {state: index for index, state in enumerate(_STATE_ORDER)}


def _state_index(state: str) -> int:
    """The position of `state` in _STATE_ORDER. Compiled, identity tests are cheaper than a
    dict lookup or `==` (which compares the contents of strings of equal length): the
    decoder's state strings are these very objects, and so are the states the engine stores
    from them. Another string (read back from a table) is looked up by its contents."""
    if state is AVAILABLE:
        return _AVAILABLE_AT
    if state is ON_CALL:
        return _ON_CALL_AT
    if state is WRAP_UP:
        return _WRAP_UP_AT
    if state is NOT_READY:
        return _NOT_READY_AT
    if state is LOGGED_OUT:
        return _LOGGED_OUT_AT
    if state is ABSENT:
        return _ABSENT_AT
    return _STATE_AT[state]


# [previous state][new state] -> spell points, by state index. The offsets are positive:
# Engine._apply_known reads 0 as no point.
assert min(T.BUSY_STARTS, T.BUSY_ENDS, T.IDLE_STARTS, T.IDLE_ENDS) > 0
_TRANSITIONS: Final = [
    [_spell_points(ended, started) for started in _STATE_ORDER] for ended in _STATE_ORDER
]


def _bucket_start(ts: float, size: int) -> int:
    """int(ts // size) * size without a float floor division (which computes an fmod): the
    rounded quotient is the exact floor or one above it, and one above is corrected."""
    bucket = int(ts / size) * size
    return bucket - size if bucket > ts else bucket


def _record(mapping: StateMapping, key: str) -> list | None:
    """The record (a list) stored under `key`, or None. Replay's in-memory state is plain
    dicts, read with one lookup; any other mapping (a table) with `in` and `[]`, which compiled
    is cheaper than the generic .get() of a mapping not known to be a dict."""
    if type(mapping) is dict:
        return mapping.get(key)
    if key in mapping:
        found: list = mapping[key]
        return found
    return None


def _value(mapping: StateMapping, key: str) -> object:
    """The value stored under `key`, or None; read as _record reads a record."""
    if type(mapping) is dict:
        return mapping.get(key)
    if key in mapping:
        return mapping[key]
    return None


def _same_names(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    """first == second. Compiled, a loop of string comparisons is cheaper than comparing the
    tuples (a generic comparison of each pair)."""
    if len(first) != len(second):
        return False
    # A loop, not all() of a generator: the same compiled, cheaper uncompiled.
    for at in range(len(first)):  # noqa: SIM110
        if first[at] != second[at]:
            return False
    return True


def _targets(route: _RouteKeys, leaving: list[str] | None, state: str) -> list[tuple[str, str]]:
    """(scope, state) for every queue and team an agent state concerns, in the order they are
    applied: its queues, the queues and team it leaves (ABSENT), its team."""
    targets = [(key, state) for key in route.queue_keys]
    if leaving is not None:
        targets.extend((key, ABSENT) for key in leaving)
    targets.append((route.team_key, state))
    return targets


def _group(groups: dict[int, list[T.Change]], key: int) -> list[T.Change]:
    """The list of `groups` under `key`, added empty if missing."""
    changes = groups.get(key)
    if changes is None:
        changes = groups[key] = []
    return changes


class _AgentCounts:
    """A scope's agents in the states a snapshot reports (part of the derived indexes; logged
    out and ABSENT are not counted: nothing reads them).
    Native int attributes: compiled, a count kept in a list item is boxed at every change and
    type-checked at every read."""

    def __init__(self) -> None:
        self.available = 0
        self.on_call = 0
        self.wrap_up = 0
        self.not_ready = 0

    def add(self, at: int, step: int) -> None:
        """`step` more agents in the state at position `at` of _STATE_ORDER."""
        if at == _AVAILABLE_AT:
            self.available += step
        elif at == _ON_CALL_AT:
            self.on_call += step
        elif at == _WRAP_UP_AT:
            self.wrap_up += step
        elif at == _NOT_READY_AT:
            self.not_ready += step


_NO_AGENTS: Final = _AgentCounts()
_FINE_GRAIN: Final = SEP + "b"  # ends the part of a bucket key before its start
# Expiry heap entry kinds.
_SLIDE: Final = 0
_PERIOD: Final = 3
_PERIOD_GRACE: Final = 3600 + 1  # keep an interval/day tally a DST hour past its nominal end
# Final, so the compiled module calls the functions without looking up heapq's attributes.
_heappush: Final = heapq.heappush
_heappop: Final = heapq.heappop


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
    # A plain dict with every type: counting into it is cheaper than into a Counter.
    by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    last_event_ts: float | None = None
    calls: dict[str, CallTotals] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": {reason: n for reason, n in sorted(self.rejected.items()) if n},
        }


class Outcome:
    """What became of one input: `status` is "accepted", "duplicate" or "rejected". The
    accepted outcomes `process_many` returns are shared, one per event type, without `event`."""

    __slots__ = ("detail", "event", "event_type", "reason", "scope_updates", "status")

    def __init__(
        self,
        status: str,
        reason: str | None = None,
        detail: str = "",
        event_type: str | None = None,
        event: Event | None = None,
        scope_updates: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.detail = detail
        self.event_type = event_type
        self.event = event
        self.scope_updates = scope_updates if scope_updates is not None else []

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def __repr__(self) -> str:
        return f"Outcome({self.status!r}, {self.reason!r}, {self.detail!r}, {self.event_type!r})"


def _type_index(event_type: str) -> int:
    """The position of `event_type` in EVENT_TYPES, identity tests first as in _state_index
    (the decoder's type strings are these very objects; a dict lookup costs several times
    more, compiled). Another string is looked up by its contents."""
    if event_type is AGENT_STATE:
        return 4
    if event_type is CALL_OFFERED:
        return 0
    if event_type is CALL_ANSWERED:
        return 1
    if event_type is CALL_WRAPUP:
        return 3
    if event_type is CALL_ABANDONED:
        return 2
    return _TYPE_AT[event_type]


assert EVENT_TYPES == (CALL_OFFERED, CALL_ANSWERED, CALL_ABANDONED, CALL_WRAPUP, AGENT_STATE)
_TYPE_AT: Final = {event_type: index for index, event_type in enumerate(EVENT_TYPES)}
# By _type_index.
_ACCEPTED: Final = [Outcome("accepted", event_type=event_type) for event_type in EVENT_TYPES]


class FoldFailed(Exception):
    """The flush after a batch (folding its tally changes) raised `error` after the batch's
    items were admitted and applied. `outcomes` are what the call would have returned. What
    the fold had not written yet is dropped (never folded twice), so window, interval and day
    counts of the batch's queues and teams may be short: the caller reports the accepted
    items as faults instead of retrying them (a retry would only find duplicates)."""

    def __init__(self, outcomes: list[Outcome], error: Exception) -> None:
        super().__init__(f"the flush after {len(outcomes)} item(s) raised {error!r}")
        self.outcomes = outcomes
        # Not only `raise ... from`: compiled by mypyc, the cause is not kept.
        self.error = error


class _RouteKeys:
    """The scope keys of an agent's queues and team and the agent's record keys in them, with
    the objects they were made from: while the router holds those very objects for the agent,
    the keys need no lookups."""

    def __init__(
        self,
        agent_id: str,
        queues: tuple[str, ...],
        team: str,
        queue_keys: list[str],
        team_key: str,
    ) -> None:
        self.queues = queues
        self.team = team
        self.queue_keys = queue_keys
        self.team_key = team_key
        self.queue_agent_keys = [f"{key}{SEP}{agent_id}" for key in queue_keys]
        self.team_agent_key = f"{team_key}{SEP}{agent_id}"
        # The _Scope of each queue and of the team once they all exist, and the agent's
        # records in them if `agents` is a plain dict (which holds the very lists the engine
        # updates in place, never replaced): no lookups per update. Part of the derived
        # indexes, so dropped with them (Engine.invalidate_caches).
        self.queue_scopes: list[_Scope] = []
        self.team_scope: _Scope | None = None
        self.queue_records: list[list] = []
        self.team_record: list | None = None
        # The same in the order of _targets (queues, then team), for Engine._apply_known: set
        # with the records, empty without them.
        self.scopes: list[_Scope] = []
        self.records: list[list] = []
        # The agent's router record if the router is a plain dict (which holds this very list,
        # updated in place): _admit finds it with the lookup of these keys. Part of the
        # derived indexes too.
        self.latest: list | None = None

    def find_scopes(self, derived: _Derived, agents: StateMapping) -> None:
        """Keep the scopes of these keys in `derived` if they all exist, and the agent's
        records in them in `agents` if it is a plain dict and they all exist."""
        known = derived.scopes
        team_scope = known.get(self.team_key)
        queue_scopes = [known.get(key) for key in self.queue_keys]
        if team_scope is None or None in queue_scopes:
            return
        self.queue_scopes = [scope for scope in queue_scopes if scope is not None]
        self.team_scope = team_scope
        if type(agents) is dict:
            team_record = agents.get(self.team_agent_key)
            queue_records = [agents.get(key) for key in self.queue_agent_keys]
            if team_record is not None and None not in queue_records:
                self.queue_records = [record for record in queue_records if record is not None]
                self.team_record = team_record
                self.scopes = [*self.queue_scopes, team_scope]
                self.records = [*self.queue_records, team_record]

    def forget_scopes(self) -> None:
        self.queue_scopes = []
        self.team_scope = None
        self.queue_records = []
        self.team_record = None
        self.scopes = []
        self.records = []
        self.latest = None


class _TypeCount:
    """Events of one type accepted since the last flush(), which adds them to
    EventStats.by_type: an attribute is cheaper to count in than a dict entry."""

    def __init__(self) -> None:
        self.accepted = 0


class _Rolling:
    """In-memory running totals of one scope's rolling windows (derived; rebuilt on demand)."""

    __slots__ = ("starts", "totals")

    def __init__(self, starts: list[float]) -> None:
        # Floats only, -inf before the first event: compiled, reading an int stored here as
        # a float converts it through a generic call.
        self.starts = starts
        self.totals = [T.RunningTotal() for _ in starts]


class _Place:
    """Where a bucket's tallies go, found once a flush for all the scopes with the bucket: the
    end of its fine tallies' keys, its interval and day, and the scopes in its slide index
    and their tallies' keys (once a scope added a new tally of it in this flush)."""

    __slots__ = ("bucket", "day", "interval", "keys", "scopes", "suffix")

    def __init__(self, bucket: int, suffix: str, interval: int, day: int) -> None:
        self.bucket = bucket
        self.suffix = suffix
        self.interval = interval
        self.day = day
        self.scopes: list[str] | None = None
        self.keys: list[str] = []


class _WindowsChange:
    """What one flush changes one scope's rolling windows by. The change of the buckets that
    every window holds (nearly all: a batch's buckets are recent) adds up here and is added
    to each window once, when the scope's buckets are folded; any other bucket's goes to the
    windows holding it at once. Sums of whole numbers: the same in any order."""

    __slots__ = ("common", "held", "latest", "rolling")

    def __init__(self) -> None:
        self.rolling: _Rolling | None = None  # the scope's, found by its first fold
        self.latest = -math.inf  # the latest start of a window: buckets from it on are in all
        self.common = T.RunningTotal()
        self.held = False  # whether `common` holds any bucket's change

    def attach(self, rolling: _Rolling) -> None:
        self.rolling = rolling
        # A loop over typed floats: compiled, max() of the list compares generically.
        latest = -math.inf
        for index in range(len(rolling.starts)):
            start: float = rolling.starts[index]
            if start > latest:
                latest = start
        self.latest = latest

    def add_to_windows(self) -> None:
        rolling = self.rolling
        if self.held and rolling is not None:
            for total in rolling.totals:
                total.add_total(self.common)


class _Scope:
    """What an update of one queue or team reads besides the mappings, reached with one lookup
    (part of the derived indexes)."""

    def __init__(self, key: str, counts: _AgentCounts) -> None:
        self.key = key
        self.counts = counts  # the scope's entry in _Derived.agent_counts
        # Tally changes of the batch numbered `batch` by bucket, in the order first changed
        # (folded by flush()), and the one of `bucket`: successive events of a scope mostly fall
        # in one bucket, so most skip the lookup in `pending`.
        self.batch = -1
        self.pending: dict[int, T.Change] = {}
        self.bucket = 0
        self.delta = T.Change()
        # agent id -> the agent's key in `agents`: one string per agent and scope, its hash
        # computed once (as many entries as the scope's agent records).
        self.agent_keys: dict[str, str] = {}


class _Queue:
    """What a call event of one queue reads besides the mappings (part of the derived indexes)."""

    def __init__(
        self,
        name: str,
        scope: _Scope,
        totals: CallTotals,
        settings: QueueSettings,
        waiting: dict[str, float],
    ) -> None:
        self.scope = scope
        self.totals = totals  # the queue's entry in EventStats.calls
        self.threshold = settings.service_level_threshold_seconds
        self.short_abandon = settings.short_abandon_seconds
        self.leg_prefix = name + SEP
        self.waiting = waiting  # the queue's entry in _Derived.waiting


class _Derived:
    """Indexes derived from the mappings; dropped by `invalidate_caches` and rebuilt lazily."""

    def __init__(self) -> None:
        self.expiry: list[tuple] = []
        # Bucket start -> the scopes with that bucket, until it has left every rolling window,
        # and the due times (bucket + a window's length) with an expiry entry: buckets of all
        # scopes share due times, so this pushes and pops the heap far less than an entry per
        # bucket and window would, and scheduling a scope's bucket is one append.
        self.slides: dict[int, list[str]] = {}
        # The keys of those scopes' fine tallies, in the same order, so sliding a bucket out
        # neither builds a key nor hashes it: with a plain dict, the very strings it holds
        # (a slot each); a table's are kept here besides (a string per scope and bucket).
        self.slide_keys: dict[int, list[str]] = {}
        self.slide_dues: set[int] = set()
        # Accepted ids and their ts in arrival order (nearly time order): a queue is cheaper
        # than the heap, and an id evicted a little late is harmless (duplicate checks look at
        # its ts). Two lists read from `seen_head` on and cut back once that passes a quarter of
        # them: compiled, list operations are cheaper than a deque's method calls. Two lists
        # rather than one of (ts, id) pairs, and `seen_ts` holding the very float objects that
        # `seen` holds: a list slot per id instead of a pair and a second float (about 90
        # bytes per id, and the worker keeps allowed_lateness_seconds' worth of ids).
        self.seen_ids: list[str] = []
        self.seen_ts: list = []
        self.seen_head = 0
        # Ids stored again over a forgotten entry (a redelivery past the lateness bound) whose
        # newest entry in `seen_ids` has not expired yet: only these can have an older entry
        # there whose ts `seen` no longer holds, so expiry deletes any other id of a plain dict
        # without reading its value first (about 130 instructions per id).
        self.restored: set[str] = set()
        # Resolved legs (key, answer ts) in arrival order, read from `resolved_head` on, as
        # above: every answered or abandoned call leaves one for the lateness bound, and a heap
        # entry each cost about 900 instructions per event.
        self.resolved_keys: list[str] = []
        self.resolved_ts: list = []
        self.resolved_head = 0
        # Running totals, kept up to date from the first bucket on, so that no snapshot has to
        # read every bucket. Over restored mappings (a restart, a rebalance) they are built
        # from the buckets by the first snapshot, or by prepare_snapshots().
        self.rolling: dict[str, _Rolling] = {}
        self.rolling_ready = False
        self.agent_counts: dict[str, _AgentCounts] = {}
        # queue -> {leg key: offer ts} of waiting calls, in arrival order. By the key in
        # `legs`, not the call id: that string's hash is computed already.
        self.waiting: dict[str, dict[str, float]] = {}
        self.next_stale_sweep = -math.inf
        self.known: set[str] = set()
        # The views of the queues and of the teams of `known`, in name order, as of when it held
        # `named` scopes (it only grows, so the same size is the same set).
        self.named = 0
        self.queue_views: list[_View] = []
        self.team_views: list[_View] = []
        self.scopes: dict[str, _Scope] = {}  # scope key -> _Scope, made by the first update
        self.queues: dict[str, _Queue] = {}  # queue -> _Queue, made by the first call event
        self.views: dict[str, _View] = {}  # scope key -> _View, made by a snapshot


class _Staffing:
    """A queue's staffing object and the staffing window counts it was computed from: Erlang C
    runs again only when they change (a quiet queue's stay the same for minutes)."""

    def __init__(
        self,
        offered: int,
        handled: int,
        handle_seconds: object,
        settings: QueueSettings,
        load: StaffingLoad,
        productive: int,
    ) -> None:
        self.offered = offered
        self.handled = handled
        self.handle_seconds = handle_seconds
        self.settings = settings
        self.load = load
        self.productive = productive
        self.figures = staffing_object(load, productive)


class _View:
    """A scope's part of the previous snapshot, which the next one reuses where its inputs are
    the same (part of the derived indexes)."""

    def __init__(self, scope: str, name: str, windows: int, settings: QueueSettings | None) -> None:
        self.scope = scope  # the key in `known`
        self.name = name
        # The scope's entries in the derived indexes, once there are any: none is replaced or
        # removed while the indexes last, so a snapshot need not look them up again.
        self.counts = _NO_AGENTS
        self.rolling: _Rolling | None = None
        self.waiting: dict[str, float] | None = None  # a queue's
        self.windows = [T.Window() for _ in range(windows)]  # rolling, then interval and today
        self.settings = settings  # a queue's (for_queue is a call into uncompiled code)
        # Start and key of the interval and the day tally the previous snapshot read (native
        # ints: compiled, a start read from a list is unboxed by a call, being over 2**30).
        self.interval = -1
        self.interval_key = ""
        self.day = -1
        self.day_key = ""
        self.staffing: _Staffing | None = None
        # The agents object of a queue's previous snapshot and the counts it shows: a copy of
        # it is cheaper than a new dict, and a quiet queue's counts stay the same.
        self.agents: dict[str, Any] | None = None
        self.available = 0
        self.on_call = 0
        self.wrap_up = 0
        self.not_ready = 0

    def agents_of(self, counts: _AgentCounts) -> dict[str, Any]:
        """A new agents object of `counts` (the caller may change it)."""
        agents = self.agents
        if (
            agents is None
            or counts.available != self.available
            or counts.on_call != self.on_call
            or counts.wrap_up != self.wrap_up
            or counts.not_ready != self.not_ready
        ):
            self.available, self.on_call = counts.available, counts.on_call
            self.wrap_up, self.not_ready = counts.wrap_up, counts.not_ready
            agents = self.agents = {
                "staffed": counts.available + counts.on_call + counts.wrap_up + counts.not_ready,
                "available": counts.available,
                "on_call": counts.on_call,
                "wrap_up": counts.wrap_up,
                "not_ready": counts.not_ready,
            }
        return agents.copy()


class _Frame:
    """What the windows of every scope share in one snapshot: computed once per snapshot."""

    def __init__(
        self, as_of: float, starts: list[int], names: list[str], periods: list[int]
    ) -> None:
        self.as_of = as_of
        self.starts = starts  # start of each rolling window, by index in _window_lengths
        self.names = names  # the snapshot's windows: rolling, interval, today
        self.interval, self.day = periods  # start of the interval and of the day
        self.window_starts = starts[: len(names) - 2] + periods  # by index in names
        self.holders: dict[int, set[str]] = {}  # bucket -> scopes with its tally (_holders)
        self.oldest: int | None = None  # see _oldest_bucket


class Engine:
    def __init__(self, settings: Settings, state: EngineState | None = None) -> None:
        self.settings = settings
        self.state = state if state is not None else EngineState.in_memory()
        # The mappings themselves, read for every event (an attribute of the engine is cheaper
        # than one of EngineState, most of all when compiled).
        self._seen = self.state.seen
        self._buckets = self.state.buckets
        self._legs = self.state.legs
        self._agents = self.state.agents
        self._router = self.state.router
        self._scopes = self.state.scopes
        self.grid = TimeGrid(settings.bucket_seconds, settings.interval_minutes, settings.timezone)
        self.windows = list(settings.window_seconds.items())
        # Running totals are kept for the snapshot's windows and for the staffing window.
        self._window_lengths = [seconds for _, seconds in self.windows]
        if settings.staffing_window_seconds not in self._window_lengths:
            self._window_lengths.append(settings.staffing_window_seconds)
        self._staffing_index = self._window_lengths.index(settings.staffing_window_seconds)
        self._longest = max(self._window_lengths)
        self._longest_index = self._window_lengths.index(self._longest)
        self._shortest = min(self._window_lengths)
        self._lateness = settings.allowed_lateness_seconds
        self._max_wait = settings.max_wait_seconds
        self._bucket_seconds = settings.bucket_seconds
        # Queue and team name -> scope key: one string per scope, its hash computed once, so
        # the lookups of every update with it find it by identity.
        self._queue_keys: dict[str, str] = {}
        self._team_keys: dict[str, str] = {}
        self._route_keys: dict[str, _RouteKeys] = {}  # agent id -> its last route's keys
        self.stats = EventStats()
        self.now = -math.inf
        self.max_ts = -math.inf
        self._newest_accepted = -math.inf
        self._derived: _Derived | None = None
        # Scopes with tally changes in the current batch (_Scope.pending), in the order first
        # changed; folded into the mappings once per bucket by flush(), which every public
        # mutating call ends with.
        self._changed: list[_Scope] = []
        self._batch = 0  # flush() counts up when it detaches _changed (see _Scope.batch)
        self._type_counts = [_TypeCount() for _ in EVENT_TYPES]  # by _type_index
        # The router record _admit read for the agent state it admitted last, which _route
        # then updates, and the agent's route keys: one lookup per agent state.
        self._admitted_route: list | None = None
        self._admitted_keys: _RouteKeys | None = None
        # The ts of the event _admit accepted last as stored in `seen`: compiled, one boxed
        # float for that and the records the event changes (router, agents, legs).
        self._admitted_stamp: object = None
        # The _type_index of the event _admit accepted last: process_many picks its outcome by
        # it without reading the event's type again (compiled, a read through the Event union
        # and a second _type_index).
        self._admitted_type = 0

    # ----------------------------------------------------------------------------- ingestion
    def ingest(self, raw: bytes | str, now: float | None = None) -> Outcome:
        """Decode, admit and apply one message; agent states are routed in-process."""
        return self.process(decode_event(raw), now)

    def ingest_many(self, raws: Iterable[bytes | str], now: float | None = None) -> list[Outcome]:
        return self.process_many(decode_batch(list(raws)), now)

    def process(self, item: Event | Rejection, now: float | None = None) -> Outcome:
        return self.process_many((item,), now)[0]

    def process_many(
        self, items: Iterable[Event | Rejection], now: float | None = None
    ) -> list[Outcome]:
        """Admit and apply each item in order; tallies are folded once at the end."""
        outcomes: list[Outcome] = []
        for item in items:
            if isinstance(item, Rejection):
                outcomes.append(self._reject(item.reason, item.detail, item.event_type))
                continue
            # What admitting an event moves, restored if applying it fails (only accepted
            # events advance the clocks, DESIGN.md). Separate assignments: compiled, a tuple
            # would box the floats.
            accepted = self.stats.accepted
            clock = self.now
            newest_ts = self.max_ts
            newest_accepted = self._newest_accepted
            try:
                refused = self._admit(item, now)
                if refused is not None:
                    outcomes.append(refused)
                    continue
                if isinstance(item, CallEvent):
                    self._apply_call(item)
                else:
                    # Shared by every scope of the route (compiled, each read of a field of
                    # the event is a call).
                    ts, state, stamp = item.ts, item.state, self._admitted_stamp
                    route, leaving = self._route(
                        item, self._admitted_route, self._admitted_keys, stamp
                    )
                    if leaving is None and route.records:
                        self._apply_known(route, state, ts, stamp)
                    else:
                        self._apply_route(route, leaving, item.agent_id, state, ts)
            except Exception as error:
                outcomes.append(
                    self._fault(item, error, accepted, clock, newest_ts, newest_accepted)
                )
                continue
            outcomes.append(_ACCEPTED[self._admitted_type])
        try:
            self.flush()
        except Exception as error:
            raise FoldFailed(outcomes, error) from error
        return outcomes

    def route_agent_state(self, raw: bytes | str, now: float | None = None) -> Outcome:
        """Admit an agent.state message on its agent's partition; return its scope updates."""
        event = decode_event(raw)
        if isinstance(event, Rejection):
            outcome = self._reject(event.reason, event.detail, event.event_type)
        elif not isinstance(event, AgentStateEvent):
            outcome = self._reject(
                INVALID_FIELD, f"{event.type} sent to the agent-state path", event.type
            )
        else:
            # Separate assignments: compiled, a tuple would box the three floats.
            accepted = self.stats.accepted
            clock = self.now
            newest_ts = self.max_ts
            newest_accepted = self._newest_accepted
            try:
                outcome = self._admit(event, now) or self._routed(event)
            except Exception as error:
                outcome = self._fault(event, error, accepted, clock, newest_ts, newest_accepted)
        try:
            self.flush()
        except Exception as error:
            raise FoldFailed([outcome], error) from error
        return outcome

    def _routed(self, event: AgentStateEvent) -> Outcome:
        """The accepted outcome of an agent state, with one update per queue and team."""
        outcome = Outcome("accepted", event_type=AGENT_STATE, event=event)
        route, leaving = self._route(
            event, self._admitted_route, self._admitted_keys, self._admitted_stamp
        )
        outcome.scope_updates = [
            (
                scope[2:],
                {
                    "scope": scope[0],
                    "name": scope[2:],
                    "agent_id": event.agent_id,
                    "state": state,
                    "ts": event.ts,
                    "event_id": event.event_id,
                },
            )
            for scope, state in _targets(route, leaving, event.state)
        ]
        return outcome

    def apply_scope_update(self, update: dict[str, Any], now: float | None = None) -> Outcome:
        """Apply a routed agent-state update on the partition of its queue or team."""
        return self.apply_scope_updates([update], now)[0]

    def apply_scope_updates(
        self, updates: Iterable[dict[str, Any]], now: float | None = None
    ) -> list[Outcome]:
        if now is not None:
            self._advance(now)
        outcomes = []
        for update in updates:
            try:
                scope, agent_id, state, ts = self._scope_update_fields(update)
            except (KeyError, TypeError, ValueError) as error:
                outcomes.append(
                    self._reject(INVALID_FIELD, f"malformed scope update: {error!r}", AGENT_STATE)
                )
                continue
            try:
                applied = self._apply_spell(scope, agent_id, state, ts)
            except Exception as error:
                outcomes.append(
                    self._internal_error(
                        f"the update of agent {agent_id!r} in {scope[2:]!r}", error, AGENT_STATE
                    )
                )
                continue
            outcomes.append(Outcome("accepted" if applied else "duplicate", event_type=AGENT_STATE))
        try:
            self.flush()
        except Exception as error:
            raise FoldFailed(outcomes, error) from error
        return outcomes

    def _admit(self, item: Event, now: float | None) -> Outcome | None:
        """The time-dependent checks of DESIGN.md, in its order: future, duplicate, late,
        out_of_order. An accepted event (None returned) is recorded as seen and advances
        `now`."""
        ts = item.ts
        if now is not None:
            limit = self.settings.max_future_seconds
            if ts > now + limit:
                return self._reject(
                    FUTURE,
                    f"ts is {ts - now:.0f} s ahead of the clock (max_future_seconds={limit:g})",
                    item.type,
                )
            if now > self.now:
                self.now = now
        derived = self._derived or self._index()
        seen = self._seen
        event_id = item.event_id
        horizon = self.now - self._lateness
        # `object`: compiled, the ts is boxed once for `seen` and its list.
        stamp: object = ts
        # Replay's plain dict stores a new id (the usual case) with the one lookup that finds
        # whether it is new, and takes it out again if the event is refused below; any other
        # mapping (a table) is read as _value reads it and written once the event is accepted.
        stored = False
        if type(seen) is dict:
            count = len(seen)
            previous = seen.setdefault(event_id, stamp)
            stored = len(seen) > count
        else:
            previous = _value(seen, event_id)
        # An id older than the lateness horizon counts as forgotten even before it is evicted,
        # so the outcome never depends on when eviction runs.
        if not stored and previous is not None and previous >= horizon:
            self.stats.duplicates += 1
            return Outcome("duplicate", None, "", item.type, item)
        if ts < horizon:
            if stored:
                del seen[event_id]
            return self._reject(
                LATE,
                f"ts is {self.now - ts:.0f} s old (allowed_lateness_seconds={self._lateness:g})",
                item.type,
            )
        if isinstance(item, AgentStateEvent):
            agent_id = item.agent_id
            keys = self._admitted_keys = self._route_keys.get(agent_id)
            latest = None if keys is None else keys.latest
            if latest is None:
                latest = _record(self._router, agent_id)
            self._admitted_route = latest
            if latest is not None:
                # Typed: compiled, the comparison is native instead of generic.
                latest_ts: float = latest[0]
                if ts < latest_ts:
                    if stored:
                        del seen[event_id]
                    return self._reject(
                        OUT_OF_ORDER,
                        f"agent {agent_id!r} already has a state at a later ts",
                        item.type,
                    )
        if not stored:
            seen[event_id] = stamp
            if previous is not None:
                derived.restored.add(event_id)
        derived.seen_ids.append(event_id)
        derived.seen_ts.append(stamp)
        self._admitted_stamp = stamp
        if ts > self.max_ts:
            self.max_ts = ts
            if now is None:
                self.now = ts
        self.stats.accepted += 1
        type_at = self._admitted_type = _type_index(item.type)
        self._type_counts[type_at].accepted += 1
        if ts > self._newest_accepted:
            self._newest_accepted = ts  # copied to stats.last_event_ts by flush()
        return None

    def _fault(
        self,
        event: Event,
        error: Exception,
        accepted: int,
        clock: float,
        newest_ts: float,
        newest_accepted: float,
    ) -> Outcome:
        """An event whose admission or application raised: rejected as `internal_error`, so
        the caller dead-letters it and applies the rest of the batch once. The counts and
        clocks admitting it moved are put back to the values given; if it got into `seen`, it
        stays there, so a redelivery does not apply again what it changed."""
        if self.stats.accepted > accepted:
            self.stats.accepted -= 1
            self._type_counts[_type_index(event.type)].accepted -= 1
        self.now, self.max_ts, self._newest_accepted = clock, newest_ts, newest_accepted
        return self._internal_error(f"{event.type} event {event.event_id!r}", error, event.type)

    def _internal_error(self, what: str, error: Exception, event_type: str) -> Outcome:
        # One template for every fault, so the worker's log throttle can hold a storm back.
        _log.error("applying %s raised; dead-lettered as internal_error", what, exc_info=error)
        return self._reject(INTERNAL_ERROR, f"applying it raised {error!r}", event_type)

    def _reject(self, reason: str, detail: str, event_type: str | None) -> Outcome:
        self.stats.rejected[reason] += 1
        return Outcome("rejected", reason, detail, event_type)

    def _advance(self, now: float) -> None:
        if now > self.now:
            self.now = now

    # ----------------------------------------------------------------------------- call events
    def _apply_call(self, event: CallEvent) -> None:
        derived = self._derived or self._index()
        queue = derived.queues.get(event.queue)
        if queue is None:
            queue = self._new_queue(derived, event.queue, event.ts)
        totals = queue.totals
        delta = self._delta(queue.scope, _bucket_start(event.ts, self._bucket_seconds))
        kind = event.type
        stamp = self._admitted_stamp
        # The leg first: if storing it fails, nothing of the event is counted.
        if kind == CALL_OFFERED:
            self._offer_leg(queue, event.call_id, event.ts, stamp)
            totals.offered += 1
            delta.offered += 1
        elif kind == CALL_ANSWERED:
            self._resolve_leg(queue, event.call_id, event.ts, stamp)
            wait = event.wait_seconds
            within = wait <= queue.threshold
            totals.answered += 1
            totals.answered_within_threshold += within
            delta.answered += 1
            delta.answered_within_threshold += within
            delta.wait_seconds += wait
        elif kind == CALL_ABANDONED:
            self._resolve_leg(queue, event.call_id, event.ts, stamp)
            wait = event.wait_seconds
            totals.abandoned += 1
            delta.abandoned += 1
            delta.short_abandoned += wait < queue.short_abandon
            delta.abandoned_within_threshold += wait <= queue.threshold
        else:  # call.wrapup
            delta.handled += 1
            delta.handle_seconds += event.handle_seconds

    def _new_queue(self, derived: _Derived, name: str, ts: float) -> _Queue:
        key = self._queue_key(name)
        scope = derived.scopes.get(key)
        if scope is None:
            scope = self._new_scope(derived, key, ts)
        totals = self.stats.calls.get(name)
        if totals is None:
            totals = self.stats.calls[name] = CallTotals()
        waiting = derived.waiting.setdefault(name, {})
        queue = _Queue(name, scope, totals, self.settings.for_queue(name), waiting)
        derived.queues[name] = queue
        return queue

    def _delta(self, scope: _Scope, bucket: int) -> T.Change:
        """The pending tally change of one bucket of one scope (folded by flush())."""
        if scope.batch == self._batch:
            if scope.bucket == bucket:
                return scope.delta
            found = scope.pending.get(bucket)
            if found is None:
                found = scope.pending[bucket] = T.Change()
            delta = found
        else:
            # The scope's first change in this batch; what `pending` still holds is detached
            # (a fold that raised), never to be folded.
            delta = T.Change()
            scope.batch, scope.pending = self._batch, {bucket: delta}
            self._changed.append(scope)
        scope.bucket, scope.delta = bucket, delta
        return delta

    # A leg older than its horizon (waiting: max_wait_seconds; resolved: the lateness bound)
    # counts as gone even before it is evicted, so results never depend on eviction timing.
    # Its status and ts are read typed: compiled, the comparisons are native.
    def _live_leg(self, leg: list | None) -> list | None:
        """`leg` (a record of `legs`, or None) if it still counts, else None."""
        if leg is None:
            return None
        status: int = leg[0]
        since: float = leg[1]
        horizon = self._max_wait if status == WAITING else self._lateness
        return leg if since >= self.now - horizon else None

    def _offer_leg(self, queue: _Queue, call_id: str, ts: float, stamp: Any) -> None:
        """Offered at `ts`, boxed as `stamp` (Any: stored in `waiting` as the float it is)."""
        key = queue.leg_prefix + call_id
        legs = self._legs
        record = [WAITING, stamp]
        if type(legs) is dict:
            # A new leg (the usual case) is stored with the one lookup that finds it is new.
            found = legs.setdefault(key, record)
            if found is record:
                queue.waiting[key] = stamp
                return
            leg = self._live_leg(found)
        else:
            leg = self._live_leg(_record(legs, key))
        if leg is not None:
            status: int = leg[0]
            since: float = leg[1]
            if status == RESOLVED:
                return  # answered or abandoned already (its answer may have arrived first)
            if since <= ts:
                return
        legs[key] = record
        queue.waiting[key] = stamp

    def _resolve_leg(self, queue: _Queue, call_id: str, ts: float, stamp: object) -> None:
        """Answered or abandoned at `ts`, boxed as `stamp`."""
        key = queue.leg_prefix + call_id
        leg = self._live_leg(_record(self._legs, key))
        # Kept as resolved for the lateness bound, whether its offer came first or not: an
        # offer of the same leg that arrives later is absorbed, so arrival order never matters.
        if leg is None:
            self._legs[key] = [RESOLVED, stamp]
        else:
            status: int = leg[0]
            if status == RESOLVED:
                return
            # The waiting leg's record, updated in place: no new list. A plain dict holds this
            # very list already; any other mapping (a table) is written to, which is what it
            # logs, and the record put back as it was if storing it fails, so nothing of the
            # event is counted.
            offered_at = leg[1]
            leg[0] = RESOLVED
            leg[1] = stamp
            legs = self._legs
            if type(legs) is not dict:
                try:
                    legs[key] = leg
                except BaseException:
                    leg[0] = WAITING
                    leg[1] = offered_at
                    raise
        # Nearly always waiting: one lookup (compiled, cheaper than `in` then `del`, or than
        # dict.pop(key, None) or contextlib.suppress); an answer before its offer, or after a
        # stale offer was dropped, finds none.
        try:  # noqa: SIM105
            del queue.waiting[key]
        except KeyError:
            pass
        derived = self._derived or self._index()
        derived.resolved_keys.append(key)
        derived.resolved_ts.append(stamp)

    # ----------------------------------------------------------------------------- agent states
    def _route(
        self,
        event: AgentStateEvent,
        latest: list | None,
        cached: _RouteKeys | None,
        stamp: object,
    ) -> tuple[_RouteKeys, list[str] | None]:
        """The scope keys of the agent's queues and team, which get the event's state, and
        of those the agent leaves (state ABSENT), if any; see _targets. Returned as they are,
        not as a list of (scope, state) pairs: replay applies them without making one.
        `latest` is the agent's router record and `cached` its last route's keys, as _admit
        read them (None if it has none), `stamp` the event's ts as _admit stored it."""
        router = self._router
        agent_id = event.agent_id
        queues = event.queues
        state = event.state
        team = event.team
        if latest is None:
            keys = self._new_route_keys(agent_id, queues, team)
            record = router[agent_id] = [stamp, state, queues, team]
            if type(router) is dict:
                keys.latest = record
            return keys, None
        old_queues, old_team = latest[2], latest[3]
        # Keys made from the very objects the router holds (immutable): compared through the
        # keys' typed fields, natively (equal tuples of equal strings: what `==` finds).
        current = cached is not None and cached.queues is old_queues and cached.team is old_team
        if cached is not None and current:
            same_queues = _same_names(cached.queues, queues)
            same_team = cached.team == team
        else:
            same_queues, same_team = old_queues == queues, old_team == team
        # Unchanged: the router and the keys keep the equal names they hold (no writes), so the
        # keys stay current for the agent's next event.
        unchanged = cached is not None and current and same_queues and same_team
        if cached is not None and unchanged:
            keys = cached
        else:
            keys = self._new_route_keys(agent_id, queues, team)
        leaving: list[str] | None = None
        # Equal queues (the usual case) leave none; a list read back from JSON never equals the
        # tuple and takes the loop.
        if not same_queues:
            leaving = [self._queue_key(queue) for queue in old_queues if queue not in queues]
        if not same_team:
            if leaving is None:
                leaving = []
            leaving.append(self._team_key(old_team))
        # Updated in place: no new list. Written back to any mapping but a plain dict (which
        # holds this very list), as a table logs it; put back as it was if storing it fails,
        # or the agent's next event would not be routed out of the queues it leaves now.
        old_ts, old_state = latest[0], latest[1]
        latest[0] = stamp
        latest[1] = state
        if not unchanged:
            latest[2] = queues
            latest[3] = team
        if type(router) is not dict:
            try:
                router[agent_id] = latest
            except BaseException:
                latest[0], latest[1] = old_ts, old_state
                latest[2], latest[3] = old_queues, old_team
                raise
        else:
            keys.latest = latest
        return keys, leaving

    def _new_route_keys(self, agent_id: str, queues: tuple[str, ...], team: str) -> _RouteKeys:
        queue_keys = [self._queue_key(queue) for queue in queues]
        keys = _RouteKeys(agent_id, queues, team, queue_keys, self._team_key(team))
        self._route_keys[agent_id] = keys
        return keys

    def _queue_key(self, queue: str) -> str:
        key = self._queue_keys.get(queue)
        if key is None:
            key = self._queue_keys[queue] = QUEUE_SCOPE + SEP + queue
        return key

    def _team_key(self, team: str) -> str:
        key = self._team_keys.get(team)
        if key is None:
            key = self._team_keys[team] = TEAM_SCOPE + SEP + team
        return key

    def _scope_update_fields(self, update: dict[str, Any]) -> tuple[str, str, str, float]:
        """(scope key, agent_id, state, ts) of a routed update; KeyError, TypeError or
        ValueError for a malformed one."""
        scope_kind, name, agent_id = update["scope"], update["name"], update["agent_id"]
        state, ts = update["state"], float(update["ts"])
        if scope_kind not in (QUEUE_SCOPE, TEAM_SCOPE) or (
            state != ABSENT and state not in _SCOPE_STATES
        ):
            raise ValueError(f"scope {scope_kind!r} / state {state!r}")
        # Routed from an admitted event, so within decode's range; anything else is malformed
        # (a NaN or infinite ts used to change the agent counts before failing on its bucket).
        if not 0 <= ts < MAX_TS:
            raise ValueError(f"ts {ts!r}")
        if type(name) is not str:
            raise TypeError(f"name {name!r}")
        key = self._queue_key(name) if scope_kind == QUEUE_SCOPE else self._team_key(name)
        return key, str(agent_id), state, ts

    def _apply_route(
        self,
        route: _RouteKeys,
        leaving: list[str] | None,
        agent_id: str,
        state: str,
        ts: float,
    ) -> None:
        """An admitted agent state in every scope of its route, in the order of _targets."""
        agent_keys = route.queue_agent_keys
        scopes, records = route.queue_scopes, route.queue_records
        for at, scope in enumerate(route.queue_keys):
            self._apply_spell(
                scope,
                agent_id,
                state,
                ts,
                agent_keys[at],
                scopes[at] if scopes else None,
                records[at] if records else None,
            )
        if leaving is not None:
            for scope in leaving:
                self._apply_spell(scope, agent_id, ABSENT, ts)
        team_scope = route.team_scope
        self._apply_spell(
            route.team_key,
            agent_id,
            state,
            ts,
            route.team_agent_key,
            team_scope,
            route.team_record,
        )
        if team_scope is None:
            route.find_scopes(self._derived or self._index(), self._agents)

    def _apply_known(self, route: _RouteKeys, state: str, ts: float, stamp: object) -> None:
        """_apply_route for the usual case: the agent stays in its queues and team, which
        exist, and its records in them are at hand (`agents` is a plain dict). What the scopes
        share is done once: the bucket, the transition (the agent mostly leaves the same state
        in each), and no max_ts update (_admit made it). `stamp` is `ts` as _admit boxed it."""
        records, scopes = route.records, route.scopes
        state_at = _state_index(state)
        # The transition of the previous scope, reused while the agent leaves the same state:
        # its spell points as native ints, 0 for none (tally offsets are positive), unpacked
        # once per transition (compiled, a tuple of optional ints is type-checked at each read).
        left: object = None
        ended_at = 0
        moves = False
        ended_points = 0
        started_points = 0
        bucket = -1  # computed by the first scope with spell points
        offset_in_bucket = 0.0
        for at in range(len(records)):
            record = records[at]
            ended: str = record[0]
            since: float = record[1]
            if ts < since or (ts == since and state == ended):
                continue  # idempotent, as in _apply_spell
            record[0] = state
            record[1] = stamp
            if ended is not left:
                left = ended
                ended_at = _state_index(ended)
                points = _TRANSITIONS[ended_at][state_at]
                moves = points is not None
                if points is not None:
                    ends, starts = points
                    ended_points = 0 if ends is None else ends
                    started_points = 0 if starts is None else starts
            scope = scopes[at]
            counts = scope.counts
            counts.add(ended_at, -1)
            counts.add(state_at, 1)
            if moves:
                if bucket < 0:
                    bucket = _bucket_start(ts, self._bucket_seconds)
                    offset_in_bucket = ts - bucket
                delta = self._delta(scope, bucket)
                if ended_points:
                    delta.add_point(ended_points, offset_in_bucket, bucket)
                if started_points:
                    delta.add_point(started_points, offset_in_bucket, bucket)

    def _apply_spell(
        self,
        scope: str,
        agent_id: str,
        state: str,
        ts: float,
        agent_key: str = "",
        known: _Scope | None = None,
        known_record: list | None = None,
    ) -> bool:
        """The agent is in `state` in this scope from `ts` on: close its previous spell there
        and open the next. Idempotent: a redelivered or older update changes nothing.
        `agent_key` is the agent's key in `agents`, `known` the scope's _Scope and
        `known_record` the agent's record in a plain dict `agents` if the caller has them
        (its route)."""
        derived = self._derived or self._index()
        # Not created (registered) here: an update that changes nothing must leave no trace.
        scope_data = known if known is not None else derived.scopes.get(scope)
        key = agent_key
        if not key:
            known_key = None if scope_data is None else scope_data.agent_keys.get(agent_id)
            key = f"{scope}{SEP}{agent_id}" if known_key is None else known_key
            if known_key is None and scope_data is not None:
                scope_data.agent_keys[agent_id] = key
        agents = self._agents
        record = known_record if known_record is not None else _record(agents, key)
        ended = ABSENT
        if record is not None:
            found: list = record  # typed apart from `record`: compiled, list operations
            ended = found[0]
            # Declared here, not before the `if`: compiled, that cost 470 instructions per event.
            since: float = found[1]
            if ts < since or (ts == since and state == ended):
                return False
        if scope_data is None:
            scope_data = self._new_scope(derived, scope, ts)
        # The agent's record first: if storing it fails, the counts stay as they were.
        if record is not None:
            # Updated in place: no new list. A plain dict holds this very list already; any
            # other mapping (a table) is written to, which is what it logs.
            record[0] = state
            record[1] = ts
            if type(agents) is not dict:
                try:
                    agents[key] = record
                except BaseException:
                    record[0] = ended
                    record[1] = since
                    raise
        elif state != ABSENT:
            agents[key] = [state, ts]
        counts = scope_data.counts
        ended_at, state_at = _state_index(ended), _state_index(state)
        counts.add(ended_at, -1)
        counts.add(state_at, 1)
        points = _TRANSITIONS[ended_at][state_at]
        if points is not None:
            ended_points, started_points = points
            bucket = _bucket_start(ts, self._bucket_seconds)
            delta = self._delta(scope_data, bucket)
            offset_in_bucket = ts - bucket
            if ended_points is not None:
                delta.add_point(ended_points, offset_in_bucket, bucket)
            if started_points is not None:
                delta.add_point(started_points, offset_in_bucket, bucket)
        if ts > self.max_ts:
            self.max_ts = ts
        return True

    # ----------------------------------------------------------------------------- tallies
    def _new_scope(self, derived: _Derived, key: str, ts: float) -> _Scope:
        self._register(key, ts)
        counts = derived.agent_counts.get(key)
        if counts is None:
            counts = derived.agent_counts[key] = _AgentCounts()
        scope = derived.scopes[key] = _Scope(key, counts)
        return scope

    def _register(self, scope: str, ts: float) -> None:
        derived = self._index()
        if scope not in derived.known:
            derived.known.add(scope)
            if scope not in self._scopes:
                self._scopes[scope] = [ts]

    def flush(self) -> None:
        """Fold pending tally changes into the bucket, interval and day tallies that a
        snapshot at an `as_of >= now` can still read, then expire what none can."""
        changed = self._changed
        if changed:
            # Detached first: a fold that raises must not leave folded changes to be folded
            # again by the next flush. A new batch number, so no scope reuses a detached delta.
            self._changed = []
            self._batch += 1
            now = self.now
            grid = self.grid
            # float: -inf before the first event (mypyc keeps int and float apart)
            current_interval, current_day = -math.inf, -math.inf
            if now != -math.inf:
                interval_now, day_now = grid.periods_of_bucket(grid.bucket_of(now))
                current_interval, current_day = float(interval_now), float(day_now)
            interval_length = self.settings.interval_minutes * 60
            derived = self._index()
            places: dict[int, _Place] = {}  # bucket -> its _Place, for this flush
            for changed_scope in changed:
                scope, pending = changed_scope.key, changed_scope.pending
                changed_scope.pending = {}
                # The changes of each interval and day tally in the order of their events: a
                # batch's buckets of a scope mostly share them, and each is read and written
                # once. The group of the previous bucket's interval and day is kept at hand:
                # compiled, a dict with int keys boxes the key and compares ints generically.
                intervals: dict[int, list[T.Change]] = {}
                days: dict[int, list[T.Change]] = {}
                interval_group: list[T.Change] | None = None
                day_group: list[T.Change] | None = None
                grouped_interval, grouped_day = 0, 0
                windows = _WindowsChange() if derived.rolling_ready else None
                try:
                    for bucket, delta in pending.items():
                        place = places.get(bucket)
                        if place is None:
                            place = places[bucket] = self._place(bucket)
                        if not bucket + self._longest < now:
                            self._fold_bucket(scope, place, delta, windows)
                        interval, day = place.interval, place.day
                        if interval >= current_interval:
                            if interval_group is None or interval != grouped_interval:
                                interval_group = _group(intervals, interval)
                                grouped_interval = interval
                            interval_group.append(delta)
                        if day >= current_day:
                            if day_group is None or day != grouped_day:
                                day_group = _group(days, day)
                                grouped_day = day
                            day_group.append(delta)
                finally:
                    # Also when a fold raised: the windows get the change of every bucket
                    # folded, as the buckets hold it.
                    if windows is not None:
                        windows.add_to_windows()
                for interval, changes in intervals.items():
                    self._fold_period(
                        f"{scope}{SEP}i{SEP}{interval}", changes, interval + interval_length
                    )
                for day, changes in days.items():
                    self._fold_period(f"{scope}{SEP}d{SEP}{day}", changes, day + 86400)
        by_type = self.stats.by_type
        for event_type, count in zip(EVENT_TYPES, self._type_counts, strict=True):
            if count.accepted:
                by_type[event_type] += count.accepted
                count.accepted = 0
        if self._newest_accepted != -math.inf:
            self.stats.last_event_ts = self._newest_accepted
        if self.max_ts != -math.inf:
            clock = [self.now if self.now != -math.inf else self.max_ts, self.max_ts]
            if self._scopes.get(CLOCK_KEY) != clock:
                self._scopes[CLOCK_KEY] = clock
        self._expire()

    def _place(self, bucket: int) -> _Place:
        interval, day = self.grid.periods_of_bucket(bucket)
        return _Place(bucket, f"{_FINE_GRAIN}{SEP}{bucket}", interval, day)

    def _fold_bucket(
        self, scope: str, place: _Place, delta: T.Change, windows: _WindowsChange | None
    ) -> None:
        """Fold `delta` into the tally of bucket `place`; its change of the rolling windows goes
        to `windows` (None until their running totals are built)."""
        derived = self._index()
        buckets = self._buckets
        bucket = place.bucket
        key = scope + place.suffix
        # What the windows holding the bucket change by: its numbers after, less before.
        change: T.RunningTotal | None = None
        if key in buckets:  # cheaper than .get() on a mapping not known to be a dict
            values = buckets[key]
            if windows is not None:
                change = T.RunningTotal()
                change.add_tally(values, -1)
            delta.add_to(values)
            # A plain dict holds the very list just added into.
            if type(buckets) is not dict:
                buckets[key] = values
            if change is None:
                return
            change.add_tally(values, 1)
        else:
            # A new bucket (the usual case): its tally is the change itself.
            scopes = place.scopes
            if scopes is None:
                place.scopes, place.keys = self._schedule_slides(derived, scope, key, bucket)
            else:
                # Scheduled by the scope before: its due times are all still to come (expiry
                # runs after the folds).
                scopes.append(scope)
                place.keys.append(key)
            buckets[key] = delta.tally()
        if windows is None:
            return
        rolling = windows.rolling
        if rolling is None:
            rolling = derived.rolling.get(scope)
            if rolling is None:
                rolling = derived.rolling[scope] = self._new_rolling()
            windows.attach(rolling)
        moment = float(bucket)
        if moment >= windows.latest:
            windows.held = True
            if change is None:
                windows.common.add_change(delta)
            else:
                windows.common.add_total(change)
            return
        if change is None:
            change = T.RunningTotal()
            change.add_change(delta)
        # By index and typed: compiled, a zip makes a tuple per window and compares generically.
        starts, totals = rolling.starts, rolling.totals
        for index in range(len(starts)):
            start: float = starts[index]
            if moment >= start:
                totals[index].add_total(change)

    def _schedule_slides(
        self, derived: _Derived, scope: str, key: str, bucket: int
    ) -> tuple[list[str], list[str]]:
        """Have `bucket` (its tally of `scope` under `key`) leave each rolling window of
        `scope` when its time comes; the scopes with the bucket and their tallies' keys."""
        scopes = derived.slides.get(bucket)
        if scopes is None:
            scopes = derived.slides[bucket] = []
            keys = derived.slide_keys[bucket] = []
            self._schedule_dues(derived, bucket)
        else:
            keys = derived.slide_keys[bucket]
            if bucket + self._shortest < self.now:
                # A late bucket: some of its due times may have passed, and they come again
                # (for the scopes that had the bucket then, sliding it out again changes
                # nothing).
                self._schedule_dues(derived, bucket)
        scopes.append(scope)
        keys.append(key)
        return scopes, keys

    def _schedule_dues(self, derived: _Derived, bucket: int) -> None:
        dues = derived.slide_dues
        for length in self._window_lengths:
            due = bucket + length
            if due not in dues:
                dues.add(due)
                _heappush(derived.expiry, (due, _SLIDE))

    def _fold_period(self, key: str, changes: list[T.Change], end: int) -> None:
        buckets = self._buckets
        stored = key in buckets
        if stored:
            values = buckets[key]
        else:
            values = T.empty()
            _heappush(self._index().expiry, (end + _PERIOD_GRACE, _PERIOD, key, 0))
        if len(changes) == 1:
            changes[0].add_to(values)
        else:
            T.add_all_to(changes, values)
        # A plain dict holds the very list just added into.
        if not stored or type(buckets) is not dict:
            buckets[key] = values

    def _new_rolling(self) -> _Rolling:
        if self.now == -math.inf:
            return _Rolling([-math.inf] * len(self._window_lengths))
        return _Rolling(
            [float(self.grid.ceil_bucket(self.now - length)) for length in self._window_lengths]
        )

    # ----------------------------------------------------------------------------- expiry
    def _expire(self) -> None:
        derived = self._index()
        now = self.now
        seen_ids, seen_ts, seen = derived.seen_ids, derived.seen_ts, self._seen
        plain, restored = type(seen) is dict, derived.restored
        horizon = now - self._lateness
        head, end = derived.seen_head, len(seen_ids)
        while head < end:
            ts: float = seen_ts[head]
            if ts >= horizon:
                break
            event_id = seen_ids[head]
            head += 1
            if plain and not (restored and event_id in restored):
                # Stored once since it was last forgotten: `seen` holds this very entry (or
                # none, as the read below tolerates, if something else took it out).
                try:  # noqa: SIM105 (compiled, cheaper than contextlib.suppress)
                    del seen[event_id]
                except KeyError:
                    pass
                continue
            stamp: Any = _value(seen, event_id)
            if stamp is not None:
                # Typed: compiled, a native comparison.
                stored: float = stamp
                if stored == ts:
                    del seen[event_id]
                    restored.discard(event_id)
        if head * 4 > end:
            del seen_ids[:head]
            del seen_ts[:head]
            head = 0
        derived.seen_head = head
        # Resolved legs whose answer left the lateness bound (unless resolved again since).
        keys, stamps, legs = derived.resolved_keys, derived.resolved_ts, self._legs
        head, end = derived.resolved_head, len(keys)
        while head < end:
            resolved_at: float = stamps[head]
            if resolved_at >= horizon:
                break
            key = keys[head]
            head += 1
            leg = _record(legs, key)
            if leg is not None:
                # Typed reads, as _live_leg's: compiled, native comparisons rather than generic
                # ones of the boxed numbers.
                since: float = leg[1]
                status: int = leg[0]
                if since == resolved_at and status == RESOLVED:
                    del legs[key]
        if head * 4 > end:
            del keys[:head]
            del stamps[:head]
            head = 0
        derived.resolved_head = head
        if now >= derived.next_stale_sweep:
            self._drop_stale_legs(derived, now - self._max_wait)
            derived.next_stale_sweep = now + self._bucket_seconds
        expiry = derived.expiry
        while expiry and expiry[0][0] < now:
            entry = _heappop(expiry)
            kind = entry[1]
            if kind == _SLIDE:
                self._slide_all_out(derived, entry[0])
            else:
                self._buckets.pop(entry[2], None)

    def _slide_all_out(self, derived: _Derived, due: int) -> None:
        """Every bucket whose time to leave a rolling window is `due` leaves it, windows in
        index order."""
        derived.slide_dues.discard(due)
        slides, slide_keys = derived.slides, derived.slide_keys
        for index, length in enumerate(self._window_lengths):
            bucket = due - length
            scopes = slides.get(bucket)
            if scopes is not None:
                keys = slide_keys[bucket]
                for position in range(len(scopes)):
                    self._slide_out(scopes[position], keys[position], bucket, index)
        # Left the longest window too: no more due times.
        slides.pop(due - self._longest, None)
        slide_keys.pop(due - self._longest, None)

    def _slide_out(self, scope: str, key: str, bucket: int, index: int) -> None:
        """Bucket `bucket` (its tally under `key`) has left window `index` of `scope` for
        every snapshot from now on."""
        buckets = self._buckets
        rolling = self._index().rolling.get(scope)
        if rolling is not None and rolling.starts[index] <= bucket:
            values = _record(buckets, key)
            if values is not None:
                rolling.totals[index].add_tally(values, -1)
            rolling.starts[index] = float(bucket + self._bucket_seconds)
        # `in` and `del` rather than .pop(key, None): compiled, a generic method call.
        if index == self._longest_index and key in buckets:
            del buckets[key]

    def _drop_stale_legs(self, derived: _Derived, horizon: float) -> None:
        """Forget calls waiting since before `horizon` (max_wait_seconds ago). Each queue's
        waiting calls are in arrival order, which is nearly offer order, so this looks only at
        the oldest few; a straggler behind a newer call goes a little later."""
        legs = self._legs
        for waiting in derived.waiting.values():
            while waiting:
                key, ts = next(iter(waiting.items()))
                if ts >= horizon:
                    break
                del waiting[key]
                legs.pop(key, None)

    # ----------------------------------------------------------------------------- derived
    def invalidate_caches(self) -> None:
        """Forget derived indexes; the next call rebuilds them from the mappings (after a
        worker restored its tables or its partitions changed)."""
        self._derived = None
        for route in self._route_keys.values():
            route.forget_scopes()

    def _index(self) -> _Derived:
        derived = self._derived
        if derived is None:
            derived = self._derived = self._rebuild()
        return derived

    def _rebuild(self) -> _Derived:
        derived = self._derived = _Derived()
        state = self.state
        saved_clock = state.scopes.get(CLOCK_KEY)
        if saved_clock is not None:
            self.now = max(self.now, saved_clock[0])
            self.max_ts = max(self.max_ts, saved_clock[1])
        derived.known.update(key for key in state.scopes if key != CLOCK_KEY)
        for ts, event_id in sorted((ts, event_id) for event_id, ts in list(state.seen.items())):
            derived.seen_ids.append(event_id)
            derived.seen_ts.append(ts)
        for key, (status, ts, *_) in sorted(state.legs.items(), key=lambda item: item[1][1]):
            if status == WAITING:
                queue = key.split(SEP, 1)[0]
                derived.waiting.setdefault(queue, {})[key] = ts
            else:
                derived.resolved_keys.append(key)
                derived.resolved_ts.append(ts)
        for key, (agent_state, *_) in list(state.agents.items()):
            if agent_state != ABSENT:
                scope = key.rsplit(SEP, 1)[0]
                counts = derived.agent_counts.get(scope)
                if counts is None:
                    counts = derived.agent_counts[scope] = _AgentCounts()
                counts.add(_state_index(agent_state), 1)
        for key in list(state.buckets):
            tag, name, grain, start_text = key.split(SEP)
            scope, start = tag + SEP + name, int(start_text)
            if grain != "b":
                length = self.settings.interval_minutes * 60 if grain == "i" else 86400
                derived.expiry.append((start + length + _PERIOD_GRACE, _PERIOD, key, 0))
                continue
            self._schedule_slides(derived, scope, key, start)
        heapq.heapify(derived.expiry)
        if not derived.slides:
            derived.rolling_ready = True  # nothing to build them from
        return derived

    def prepare_snapshots(self) -> None:
        """Build the windows' running totals from the buckets now, rather than in the first
        snapshot: over restored mappings (a restart, a rebalance) that reads every bucket."""
        derived = self._index()
        if not derived.rolling_ready:
            derived.rolling_ready = True
            self._build_rolling(derived)

    def _rolling_of(self, scope: str) -> _Rolling | None:
        """The running totals of a scope's windows."""
        self.prepare_snapshots()
        return self._index().rolling.get(scope)

    def _build_rolling(self, derived: _Derived) -> None:
        """Every scope's running totals from its fine buckets, at once (the first snapshot)."""
        # `slides` holds the scopes of every fine tally by bucket start, so no key is parsed:
        # each scope's buckets are added up from the newest back, and each window takes the
        # sum reached at its start (windows from the shortest, the latest start, on).
        lengths = self._window_lengths
        shortest_first = sorted(range(len(lengths)), key=lengths.__getitem__)
        starts = self._new_rolling().starts
        limits = [starts[index] for index in shortest_first]
        buckets, slides, rolling = self._buckets, derived.slides, derived.rolling
        sums: dict[str, T.RunningTotal] = {}  # scope -> the sum of its buckets read so far
        closed = 0  # windows starting after the buckets still to read
        for bucket in sorted(slides, reverse=True):
            while closed < len(limits) and bucket < limits[closed]:
                self._close_window(rolling, sums, shortest_first[closed])
                closed += 1
            if closed == len(limits):
                break
            suffix = f"{_FINE_GRAIN}{SEP}{bucket}"
            for scope in slides[bucket]:
                running = sums.get(scope)
                if running is None:
                    running = sums[scope] = T.RunningTotal()
                    rolling[scope] = self._new_rolling()
                values = _record(buckets, scope + suffix)
                if values is not None:
                    running.add_tally(values, 1)
        for index in shortest_first[closed:]:
            self._close_window(rolling, sums, index)

    @staticmethod
    def _close_window(
        rolling: dict[str, _Rolling], sums: dict[str, T.RunningTotal], index: int
    ) -> None:
        for scope, running in sums.items():
            rolling[scope].totals[index].add_total(running)

    # ----------------------------------------------------------------------------- snapshots
    def live_as_of(self, wall_clock: float) -> float:
        """The live snapshot time: the wall clock, but always after every applied event (a
        source clock running ahead would otherwise put events after `as_of`). Whole ms."""
        self._index()  # restores the saved clock after a restart
        moment = max(wall_clock, self.now, self.max_ts + 0.001)
        return math.ceil(moment * 1000) / 1000

    def snapshot(
        self, as_of: float, queues: Iterable[str] | None = None, teams: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """The DESIGN snapshot at `as_of`. Read-only for the mappings. Exact when `as_of` is a
        multiple of bucket_seconds; events at or after `as_of` must not have been applied."""
        self._index()  # restores the saved clock after a restart
        if as_of <= self.max_ts:
            raise ValueError(
                f"snapshot as_of {format_time(as_of)} is not after the newest applied event "
                f"({format_time(self.max_ts)}): the engine keeps no history to take events back "
                "out; feed only events before as_of (replay --at does)"
            )
        derived = self._index()
        if derived.named != len(derived.known):
            # The scopes' views in name order, so a snapshot looks none up.
            keys = sorted(derived.known)
            derived.queue_views = [
                self._view(derived, key) for key in keys if key[0] == QUEUE_SCOPE
            ]
            derived.team_views = [self._view(derived, key) for key in keys if key[0] == TEAM_SCOPE]
            derived.named = len(derived.known)
        queue_views, team_views = derived.queue_views, derived.team_views
        if queues is not None:
            wanted = set(queues)
            queue_views = [view for view in queue_views if view.name in wanted]
        if teams is not None:
            wanted = set(teams)
            team_views = [view for view in team_views if view.name in wanted]
        frame = self._frame(as_of)
        return {
            "as_of": format_time(as_of),
            "queues": {
                view.name: self._queue_snapshot(derived, view, frame) for view in queue_views
            },
            "teams": {view.name: self._team_snapshot(derived, view, frame) for view in team_views},
            "events": self.stats.as_dict(),
        }

    def _holders(self, frame: _Frame, bucket: int) -> set[str]:
        """The scopes with a fine tally of `bucket` (from the slide index), once a snapshot."""
        holders = frame.holders.get(bucket)
        if holders is None:
            scopes = self._index().slides.get(bucket)
            holders = frame.holders[bucket] = set() if scopes is None else set(scopes)
        return holders

    def _oldest_bucket(self, frame: _Frame) -> int:
        """The start of the oldest fine bucket any scope has, once a snapshot."""
        if frame.oldest is None:
            slides = self._index().slides
            frame.oldest = min(slides) if slides else self.grid.ceil_bucket(frame.as_of)
        return frame.oldest

    def _frame(self, as_of: float) -> _Frame:
        grid = self.grid
        starts = [grid.ceil_bucket(as_of - length) for length in self._window_lengths]
        interval, day = grid.periods_of_bucket(grid.bucket_of(as_of))
        names = [name for name, _ in self.windows] + ["interval", "today"]
        return _Frame(as_of, starts, names, [interval, day])

    def _view(self, derived: _Derived, scope: str) -> _View:
        """The _View of a scope (its key in `known`)."""
        view = derived.views.get(scope)
        if view is None:
            name = scope[2:]
            settings = self.settings.for_queue(name) if scope[0] == QUEUE_SCOPE else None
            view = derived.views[scope] = _View(scope, name, len(self.windows) + 2, settings)
        return view

    def _scope_entries(self, derived: _Derived, view: _View) -> None:
        """Find the scope's entries in the derived indexes that its view has none of yet."""
        scope = view.scope
        if view.counts is _NO_AGENTS:
            view.counts = derived.agent_counts.get(scope, _NO_AGENTS)
        if view.rolling is None:
            view.rolling = self._rolling_of(scope)
        if view.waiting is None and view.settings is not None:
            view.waiting = derived.waiting.get(view.name)

    def _queue_snapshot(self, derived: _Derived, view: _View, frame: _Frame) -> dict[str, Any]:
        if view.counts is _NO_AGENTS or view.rolling is None or view.waiting is None:
            self._scope_entries(derived, view)
        scope = view.scope
        settings = view.settings
        assert settings is not None  # a queue's view
        counts = view.counts
        busy_open, idle_open = counts.on_call + counts.wrap_up, counts.available
        as_of = frame.as_of
        rolling = view.rolling
        names, starts, views = frame.names, frame.window_starts, view.windows
        rolling_windows = len(self.windows)
        windows = {}
        for index in range(len(names)):
            windows[names[index]] = views[index].queue(
                self._tally(view, frame, index),
                settings,
                starts[index],
                as_of,
                busy_open,
                idle_open,
                index < rolling_windows,  # a running total's tally, or a new empty one
            )
        snapshot = self._queue_state(view.waiting, view.agents_of(counts), as_of)
        snapshot["windows"] = windows
        # Productive agents (available, on a call or in wrap-up): the open spells' agents.
        productive = busy_open + idle_open
        snapshot["staffing"] = self._staffing(scope, view, settings, rolling, productive, frame)
        return snapshot

    def _staffing(
        self,
        scope: str,
        view: _View,
        settings: QueueSettings,
        rolling: _Rolling | None,
        productive: int,
        frame: _Frame,
    ) -> dict[str, Any]:
        index = self._staffing_index
        values = self._rolling_total(scope, rolling, index, frame)
        offered, handled = T.whole(values[T.OFFERED]), T.whole(values[T.HANDLED])
        handle_seconds = values[T.HANDLE_SECONDS]
        last = view.staffing
        if (
            last is None
            or last.offered != offered
            or last.handled != handled
            or last.handle_seconds != handle_seconds
            or last.settings is not settings
        ):
            # Not settings.staffing_window_seconds: that parses the duration at every call.
            load = staffing_load(
                offered, self._window_lengths[index], handled, handle_seconds, settings
            )
            last = view.staffing = _Staffing(
                offered, handled, handle_seconds, settings, load, productive
            )
        elif last.productive != productive:
            last.productive = productive
            last.figures = staffing_object(last.load, productive)
        return last.figures.copy()  # a new object per snapshot: the caller may change it

    def _queue_state(
        self, since: dict[str, float] | None, agents: dict[str, Any], as_of: float
    ) -> dict[str, Any]:
        """`since`: the queue's waiting calls' offer ts."""
        waiting = 0
        oldest = math.inf
        if since is not None:
            for ts in since.values():
                if as_of - ts <= self._max_wait:
                    waiting += 1
                    oldest = min(oldest, ts)
        return {
            "calls_waiting": waiting,
            "oldest_waiting_seconds": as_of - oldest if waiting else None,
            "agents": agents,
        }

    def _team_snapshot(self, derived: _Derived, view: _View, frame: _Frame) -> dict[str, Any]:
        if view.counts is _NO_AGENTS or view.rolling is None:
            self._scope_entries(derived, view)
        counts = view.counts
        busy_open, idle_open = counts.on_call + counts.wrap_up, counts.available
        as_of = frame.as_of
        names, starts, views = frame.names, frame.window_starts, view.windows
        rolling_windows = len(self.windows)
        windows = {}
        for index in range(len(names)):
            windows[names[index]] = views[index].team(
                self._tally(view, frame, index),
                starts[index],
                as_of,
                busy_open,
                idle_open,
                index < rolling_windows,
            )
        return {"windows": windows}

    def _tally(self, view: _View, frame: _Frame, index: int) -> list:
        """The tally of the snapshot's window `index`, read as its window object is made (no
        list of them per scope): a rolling window's running total's tally (never changed in
        place), else the stored interval or today tally (changed in place)."""
        rolling_windows = len(self.windows)
        if index < rolling_windows:
            return self._rolling_total(view.scope, view.rolling, index, frame)
        if index == rolling_windows:
            if view.interval != frame.interval:
                view.interval = frame.interval
                view.interval_key = f"{view.scope}{SEP}i{SEP}{frame.interval}"
            key = view.interval_key
        else:
            if view.day != frame.day:
                view.day = frame.day
                view.day_key = f"{view.scope}{SEP}d{SEP}{frame.day}"
            key = view.day_key
        values = _record(self._buckets, key)
        return values or T.empty()

    def _rolling_total(
        self, scope: str, rolling: _Rolling | None, index: int, frame: _Frame
    ) -> list:
        """Slide the running total of window `index` to start where it does at the snapshot's
        time, and return it."""
        if rolling is None:
            return T.empty()
        start = frame.starts[index]
        current = rolling.starts[index]
        if start == current:  # the window has not moved since the previous snapshot
            return rolling.totals[index].tally()
        step = self._bucket_seconds
        buckets = self._buckets
        # No scope has a bucket before the oldest one in the slide index, so a window that
        # starts before it (a quiet scope's, or one longer than the traffic so far) moves there
        # without looking at each bucket on the way.
        oldest = self._oldest_bucket(frame)
        # Only scopes that have a bucket look its tally up: most lookups of a slide would miss
        # (quiet scopes, or buckets older than any event), each a cache miss in a large table.
        # While loops: compiled, a range with a variable step is a generic object.
        if start < current or start - current > self._window_lengths[index]:
            total = rolling.totals[index] = T.RunningTotal()
            bucket, end = max(start, oldest), self.grid.ceil_bucket(frame.as_of)
            while bucket < end:
                if scope in self._holders(frame, bucket):
                    values = _record(buckets, f"{scope}{SEP}b{SEP}{bucket}")
                    if values is not None:
                        total.add_tally(values, 1)
                bucket += step
        else:
            total = rolling.totals[index]
            bucket = max(int(current), oldest)
            while bucket < start:
                if scope in self._holders(frame, bucket):
                    values = _record(buckets, f"{scope}{SEP}b{SEP}{bucket}")
                    if values is not None:
                        total.add_tally(values, -1)
                bucket += step
        rolling.starts[index] = float(start)
        return total.tally()


def format_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()
