"""tally.Window, which keeps a window's figures between snapshots while its tally holds the
same number objects, gives what a Window computing everything afresh gives: after tallies
change (also to equal numbers of another type), windows slide and spells open and close."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streams.kpi
from streams.config import QueueSettings
from streams.kpi import tally as T

BUCKET = 1_795_000_000
FORMULAS = [
    QueueSettings(service_level_formula=name) for name in ("offered", "answered", "removed")
]
counts = st.integers(0, 50)
numbers = st.one_of(counts, st.floats(min_value=0, max_value=1e5, allow_nan=False))


def tally_of(values: list) -> list:
    tally = T.empty()
    for index, value in enumerate(values):
        tally[index] = value
    # spell points: n, offsets (floats), n * bucket start
    for points in (T.BUSY_STARTS, T.BUSY_ENDS, T.IDLE_STARTS, T.IDLE_ENDS):
        tally[points + 2] = tally[points] * BUCKET
    return tally


tallies = st.builds(
    tally_of,
    st.lists(numbers, min_size=T.WIDTH, max_size=T.WIDTH).map(
        lambda values: [int(v) if i < T.WAIT_SECONDS else v for i, v in enumerate(values)]
    ),
)
# A step: the tally entries replaced (index -> value, or the same value as a new object), the
# window start (in buckets after BUCKET), the end and the open spells.
steps = st.lists(
    st.tuples(
        st.dictionaries(st.integers(0, T.WIDTH - 1), st.one_of(numbers, st.just("copy"))),
        st.integers(0, 3),
        st.floats(min_value=0, max_value=99.0),
        st.integers(0, 5),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=8,
)


def replaced(tally: list, changes: dict) -> None:
    for index, value in changes.items():
        if value == "copy":  # an equal number, another object (an int becomes a float)
            old = tally[index]
            tally[index] = float(old) if isinstance(old, int) else old + 0.0
        else:
            tally[index] = value


@settings(max_examples=300, deadline=None)
@given(tally=tallies, steps=steps, formula=st.sampled_from(FORMULAS))
def test_kept_figures_equal_fresh_ones(tally, steps, formula):
    queue_window, team_window = T.Window(), T.Window()
    # Windows of a running total's tally: a changed total is a new list, never changed in place.
    fixed_queue_window, fixed_team_window = T.Window(), T.Window()
    fixed_tally = tally.copy()
    for changes, start_bucket, extra, busy_open, idle_open in steps:
        replaced(tally, changes)
        if changes:
            fixed_tally = tally.copy()
        start = BUCKET + 10 * start_bucket
        end = start + 40.0 + extra
        arguments = (tally, formula, start, end, busy_open, idle_open)
        fresh = repr(T.Window().queue(*arguments))
        assert repr(queue_window.queue(*arguments)) == fresh
        fixed_arguments = (fixed_tally, formula, start, end, busy_open, idle_open)
        assert repr(fixed_queue_window.queue(*fixed_arguments, fixed=True)) == fresh
        team_arguments = (tally, start, end, busy_open, idle_open)
        fresh = repr(T.Window().team(*team_arguments))
        assert repr(team_window.team(*team_arguments)) == fresh
        fixed_arguments = (fixed_tally, start, end, busy_open, idle_open)
        assert repr(fixed_team_window.team(*fixed_arguments, fixed=True)) == fresh


def test_each_snapshot_gets_a_new_object():
    window, tally = T.Window(), tally_of([3, 2, 1] + [0] * 18)
    first = window.queue(tally, FORMULAS[0], BUCKET, BUCKET + 30.0, 0, 0)
    first["offered"] = 99
    second = window.queue(tally, FORMULAS[0], BUCKET, BUCKET + 31.0, 0, 0)
    assert second is not first
    assert second["offered"] == 3


def test_settings_of_another_formula_are_not_taken_for_the_kept_ones():
    window, tally = T.Window(), tally_of([10, 8, 6, 2, 1, 1] + [0] * 15)
    offered = window.queue(tally, FORMULAS[0], BUCKET, BUCKET + 30.0, 0, 0)["service_level"]
    answered = window.queue(tally, FORMULAS[1], BUCKET, BUCKET + 30.0, 0, 0)["service_level"]
    assert (offered, answered) == (6 / 9, 6 / 8)


def spell_seconds(offsets, points, spells, start, begun=0, opened=0):
    """SpellSums' seconds from `start` of a tally whose busy spells end at (offsets, points,
    spells) and start at (begun, 0, opened)."""
    tally = T.empty()
    tally[T.BUSY_ENDS : T.BUSY_ENDS + 3] = [spells, offsets, points]
    tally[T.BUSY_STARTS : T.BUSY_STARTS + 3] = [opened, begun, 0]
    sums = T.SpellSums()
    sums.read(tally, T.BUSY_STARTS, T.BUSY_ENDS)
    return sums.seconds(start)


@settings(max_examples=500, deadline=None)
@given(
    offsets=st.one_of(st.integers(0, 10**6), st.floats(-1e9, 1e9, allow_nan=False)),
    begun=st.one_of(st.just(0), st.just(0.0), st.just(-0.0), st.floats(0, 1e9), st.integers(1, 9)),
    spells=st.one_of(st.integers(-(2**40), 2**40), st.integers(0, 100).map(float)),
    opened=st.one_of(st.just(0), st.integers(-(2**31), 2**31)),
    start=st.integers(0, 2**34),
    beyond_start=st.one_of(st.integers(-(10**7), 10**7), st.integers(-(2**80), 2**80)),
    bucket_starts_as_float=st.booleans(),
)
def test_spell_seconds_is_the_generic_sum_converted_once(
    offsets, begun, spells, opened, start, beyond_start, bucket_starts_as_float
):
    # The compiled native path (int points and spells, float or int 0 offsets) and the generic
    # one give what Python gives, to the bit, also where the bucket starts (`points`, near
    # spells * start as in a real window) pass 2**53 and adding them to the float first would
    # round.
    points = int(spells) * start + beyond_start
    if bucket_starts_as_float:
        points = float(points)
    expected = float(offsets - begun + (points - start * (spells - opened)))
    seconds = spell_seconds(offsets, points, spells, start, begun, opened)
    assert repr(seconds) == repr(expected)


def test_spell_seconds_at_the_machine_integer_bounds():
    # Both sides of each bound the compiled code checks before using machine integers, and
    # numbers whose product or difference would overflow one without the bounds.
    for start in (0, 2**32 - 1, 2**32, 2**40, -1, -(2**32), -(2**40)):
        for spells in (2**30 - 1, 2**30, -(2**30 - 1), -(2**30), 2**40, -(2**40)):
            for points in (spells * start + 7, 7, 2**62 - 1, 2**62, -(2**62), 2**63 - 1, -(2**63)):
                for offsets in (0.25, 0):
                    expected = float(offsets + (points - start * spells))
                    seconds = spell_seconds(offsets, points, spells, start)
                    assert repr(seconds) == repr(expected)


def test_whole_offsets_other_than_0_are_added_as_python_adds_them():
    # Int offsets (other than the 0 of an empty tally) are added to the bucket starts' part
    # before it is converted, as Python does: read as a float first, 1 + (2**54 + 2) would
    # round to 2**54 instead of 2**54 + 4.
    points = 2**54 + 2
    for offsets, begun in ((1, 0), (3, 2), (0, -1)):
        expected = float(offsets - begun + points)
        assert expected == 2.0**54 + 4
        assert repr(spell_seconds(offsets, points, 0, BUCKET, begun)) == repr(expected)


def test_spell_sums_read_again_forget_the_native_numbers():
    # A window's sums are read again when its tally changes: from usual numbers to others
    # (a float count) and back, each reading gives its own tally's seconds.
    sums, tally = T.SpellSums(), T.empty()
    for spells, offsets in ((3, 1.5), (3.0, 2.5), (2, 0.5), (2, 7)):
        tally[T.BUSY_ENDS : T.BUSY_ENDS + 3] = [spells, offsets, spells * BUCKET + 4]
        sums.read(tally, T.BUSY_STARTS, T.BUSY_ENDS)
        expected = float(offsets + (spells * BUCKET + 4 - BUCKET * spells))
        assert repr(sums.seconds(BUCKET)) == repr(expected)


@pytest.mark.skipif(
    streams.kpi.BUILD != "mypyc", reason="only mypyc presizes a literal (pure Python: 464 bytes)"
)
def test_templates_have_the_compact_str_keyed_layout():
    """A window object and a staffing object are copies of templates. Compiled, a literal is
    presized with hash-storing entries (632 rather than 464 bytes for twelve keys, over
    pymalloc's limit), which every one of a snapshot's thousands of copies would inherit."""
    from streams.kpi import staffing

    for template in (T._QUEUE_WINDOW_FIELDS, staffing._STAFFING_FIELDS):
        filled_in = {}
        for name, value in template.items():
            filled_in[name] = value
        assert sys.getsizeof(template) == sys.getsizeof(filled_in)
        assert sys.getsizeof(template.copy()) == sys.getsizeof(filled_in)


def reference_figures(tally: list, settings: QueueSettings) -> dict:
    """DESIGN's queue window figures (but occupancy), every key assigned."""
    answered, abandoned = int(tally[T.ANSWERED]), int(tally[T.ABANDONED])
    short, within = int(tally[T.SHORT_ABANDONED]), int(tally[T.ANSWERED_WITHIN_THRESHOLD])
    abandoned_within, handled = int(tally[T.ABANDONED_WITHIN_THRESHOLD]), int(tally[T.HANDLED])
    counted = abandoned - short
    formula = settings.service_level_formula
    if formula == "offered":
        service_level = T._ratio(within, answered + counted)
    elif formula == "answered":
        service_level = T._ratio(within, answered)
    else:
        service_level = T._ratio(within + abandoned_within, answered + abandoned)
    return {
        "offered": int(tally[T.OFFERED]),
        "answered": answered,
        "answered_within_threshold": within,
        "abandoned": abandoned,
        "short_abandoned": short,
        "abandoned_within_threshold": abandoned_within,
        "handled": handled,
        "service_level": service_level,
        "asa_seconds": float(tally[T.WAIT_SECONDS]) / answered if answered else None,
        "abandon_rate": T._ratio(counted, answered + counted),
        "aht_seconds": float(tally[T.HANDLE_SECONDS]) / handled if handled else None,
        "occupancy": None,
    }


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(st.just(0), counts), min_size=7, max_size=7),
    seconds=st.lists(numbers, min_size=2, max_size=2),
    formula=st.sampled_from(FORMULAS),
)
def test_queue_figures_left_as_the_template_has_them_are_the_same(values, seconds, formula):
    # Figures that are 0 or None are not stored into the copied template: the object is the
    # same, key order and types included, as one with every figure assigned.
    tally = T.empty()
    tally[: T.WAIT_SECONDS] = values
    tally[T.WAIT_SECONDS : T.HANDLE_SECONDS + 1] = seconds
    expected = reference_figures(tally, formula)
    assert repr(T._queue_figures(tally, formula)) == repr(expected)
