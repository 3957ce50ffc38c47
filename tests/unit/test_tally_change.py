"""tally.Change, the engine's pending change of one tally, stores exactly what adding the same
events into a list tally and adding that list into the stored one (add_into) stores: the same
numbers of the same types, seconds summed in the same order. Also when the engine folds several
changes into one interval or day tally at once (add_all_to: counts added up first, each seconds
entry summed natively one change at a time)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.kpi import tally as T

BUCKET = 1_795_000_000
SPELL_POINTS = (T.BUSY_STARTS, T.BUSY_ENDS, T.IDLE_STARTS, T.IDLE_ENDS)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
# What an event adds to a change: a call outcome with its seconds, or a spell point.
additions = st.one_of(
    st.tuples(st.just("offered"), seconds),
    st.tuples(st.just("answered"), seconds),
    st.tuples(st.just("abandoned"), seconds),
    st.tuples(st.just("wrapup"), seconds),
    st.tuples(st.sampled_from(SPELL_POINTS), st.floats(min_value=0, max_value=9.999)),
)
changes = st.lists(st.lists(additions, max_size=12), min_size=1, max_size=5)


def as_change(events: list[tuple]) -> T.Change:
    change = T.Change()
    for kind, value in events:
        if kind == "offered":
            change.offered += 1
        elif kind == "answered":
            change.answered += 1
            change.answered_within_threshold += value <= 20
            change.wait_seconds += value
        elif kind == "abandoned":
            change.abandoned += 1
            change.short_abandoned += value < 5
            change.abandoned_within_threshold += value <= 20
        elif kind == "wrapup":
            change.handled += 1
            change.handle_seconds += value
        else:
            change.add_point(kind, value, BUCKET)
    return change


def as_list(events: list[tuple]) -> list:
    """The same events added into a list tally, item by item (the engine before Change)."""
    delta = T.empty()
    for kind, value in events:
        if kind == "offered":
            delta[T.OFFERED] += 1
        elif kind == "answered":
            delta[T.ANSWERED] += 1
            delta[T.ANSWERED_WITHIN_THRESHOLD] += value <= 20
            delta[T.WAIT_SECONDS] += float(value)
        elif kind == "abandoned":
            delta[T.ABANDONED] += 1
            delta[T.SHORT_ABANDONED] += value < 5
            delta[T.ABANDONED_WITHIN_THRESHOLD] += value <= 20
        elif kind == "wrapup":
            delta[T.HANDLED] += 1
            delta[T.HANDLE_SECONDS] += float(value)
        else:
            delta[kind] += 1
            delta[kind + 1] += value
            delta[kind + 2] += BUCKET
    return delta


def add_into(total: list, tally: list) -> None:
    """Folding as it was done before Change: a list tally added entry by entry, zeros skipped."""
    for index in range(T.WIDTH):
        if tally[index]:
            total[index] += tally[index]


def typed(values: list) -> list[tuple[type, float]]:
    return [(type(value), value) for value in values]


@given(changes, st.lists(st.integers(min_value=0, max_value=3), min_size=T.WIDTH, max_size=T.WIDTH))
def test_a_change_adds_what_its_list_tally_adds(batches: list[list[tuple]], start: list) -> None:
    expected, stored = list(start), list(start)
    for events in batches:
        add_into(expected, as_list(events))
        as_change(events).add_to(stored)
    assert typed(stored) == typed(expected)


SECONDS_ENTRIES = (T.WAIT_SECONDS, T.HANDLE_SECONDS, *(points + 1 for points in SPELL_POINTS))


@given(
    changes,
    st.lists(st.integers(min_value=0, max_value=3), min_size=T.WIDTH, max_size=T.WIDTH),
    st.lists(st.one_of(st.just(0), seconds), min_size=6, max_size=6),
)
def test_folding_changes_together_equals_folding_them_one_by_one(
    batches: list[list[tuple]], start: list, start_seconds: list
) -> None:
    for index, value in zip(SECONDS_ENTRIES, start_seconds, strict=True):
        start[index] = value
    one_by_one, together = list(start), list(start)
    folded = [as_change(events) for events in batches]
    for change in folded:
        change.add_to(one_by_one)
    T.add_all_to(folded, together)
    assert typed(together) == typed(one_by_one)


@given(st.lists(additions, max_size=12))
def test_a_changes_own_tally_is_what_it_adds_to_an_empty_one(events: list[tuple]) -> None:
    change, added = as_change(events), T.empty()
    change.add_to(added)
    assert typed(change.tally()) == typed(added)


@given(st.lists(additions, max_size=12), st.lists(additions, max_size=12))
def test_a_running_total_adds_a_change_as_it_adds_the_changes_tally(
    before: list[tuple], events: list[tuple]
) -> None:
    from_change, from_tally = T.RunningTotal(), T.RunningTotal()
    for total in (from_change, from_tally):
        total.add_tally(as_change(before).tally(), 1)
    from_change.add_change(as_change(events))
    from_tally.add_tally(as_change(events).tally(), 1)
    assert typed(from_change.tally()) == typed(from_tally.tally())


@given(st.lists(st.one_of(st.just(0), st.integers(1, 10**6), seconds), min_size=6, max_size=6))
def test_a_running_total_takes_each_seconds_entry_as_its_truncated_units(
    entries: list,
) -> None:
    """Whatever a stored seconds entry holds (the int 0 of no seconds, an int read back from
    JSON, a float), a running total adds int(seconds * 2**30) of it, and taking the tally away
    takes exactly that away again."""
    tally = T.empty()
    for index, value in zip(SECONDS_ENTRIES, entries, strict=True):
        tally[index] = value
    added, taken = T.RunningTotal(), T.RunningTotal()
    added.add_tally(tally, 1)
    taken.add_tally(tally, -1)
    units = [added.wait_units, added.handle_units, added.busy_start_units]
    units += [added.busy_end_units, added.idle_start_units, added.idle_end_units]
    assert units == [int(float(value) * 2**30) for value in entries]
    taken_units = [taken.wait_units, taken.handle_units, taken.busy_start_units]
    taken_units += [taken.busy_end_units, taken.idle_start_units, taken.idle_end_units]
    assert taken_units == [-unit for unit in units]
