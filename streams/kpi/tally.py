"""The tally of one bucket (or of a whole window): a flat list of numbers, and the KPIs of
DESIGN.md ("Metric definitions") computed from it.

Call outcomes are plain counts and sums. Agent time is kept as the start and end points of
state spells, not as seconds per bucket, so closing a spell of any length touches two buckets.
For a window [s, e) and the spells of one kind (busy or idle) with a start or end point in it:

    seconds = sum(ends) - sum(starts) - s * (n_ends - n_starts) + n_open * (e - s)

where `n_open` counts the spells still open at e. (A closed spell that started before s and ends
in the window contributes end - s; one inside contributes end - start; an open one e - max(start,
s).) Points are stored relative to their bucket (`rel`) plus `n * bucket` (`nb`, a whole number)
so that the large epoch values cancel exactly.
"""

from __future__ import annotations

from typing import Any, Final

from mypy_extensions import i64

from streams.config import QueueSettings

OFFERED: Final = 0
ANSWERED: Final = 1
ANSWERED_WITHIN_THRESHOLD: Final = 2
ABANDONED: Final = 3
SHORT_ABANDONED: Final = 4
ABANDONED_WITHIN_THRESHOLD: Final = 5
HANDLED: Final = 6
WAIT_SECONDS: Final = 7
HANDLE_SECONDS: Final = 8
# Spell points: [n, rel, nb] at each of these offsets.
BUSY_STARTS: Final = 9
BUSY_ENDS: Final = 12
IDLE_STARTS: Final = 15
IDLE_ENDS: Final = 18
WIDTH: Final = 21

# Busy+idle seconds below this are rounding residue of an empty window, not agent time.
_NO_TIME: Final = 1e-7
# Running totals count seconds in whole units of 2**-30 s (about a nanosecond).
_UNITS_PER_SECOND: Final = float(1 << 30)
# The int 0 that empty() and Change.tally() store in entries with nothing counted (JSON reads
# it back as the same cached object). Any, not int: compiled, an int constant would be boxed
# again for every `is`.
_ZERO: Final[Any] = 0


# Tallies are plain lists of ints and floats (counts stay ints, so sums of epoch seconds stay
# exact). `Tally` is `list` rather than list[float] so the compiled engine keeps those types too.
Tally = list


def empty() -> Tally:
    return [0] * WIDTH


def _units(seconds: float) -> int:
    """`seconds` in whole units, truncated. Scaling by a power of two is exact, so the units
    depend on the number alone; each bucket loses less than a unit to the truncation."""
    return int(seconds * _UNITS_PER_SECOND)


def _stored(seconds: float) -> object:
    """What add_seconds_to leaves of `seconds` in an entry holding the int 0: it skips a zero
    (so the int stays), and 0 + seconds is `seconds`. Statements, not a conditional
    expression: mypy would type that float and make the int 0 a float."""
    if seconds:
        return seconds
    return 0


# Bits of Change.add_seconds: the seconds entries a change added to.
_WAIT: Final = 1
_HANDLE: Final = 2
_BUSY_START: Final = 4
_BUSY_END: Final = 8
_IDLE_START: Final = 16
_IDLE_END: Final = 32


def add_all_to(changes: list[Change], total: Tally) -> None:
    """Add each change into a stored tally in order, as add_to of each would, reading and
    storing each entry once. Counts are exact in any order, so they are added up natively
    first; each seconds entry is read once and the changes' seconds are added to it natively,
    one change at a time in their order: the same float additions, without a float object
    and a list store for each."""
    counts = Change()
    seconds = Change()
    seconds.read_seconds(total)
    added = 0
    for change in changes:
        counts.add_counts(change)
        added |= seconds.add_seconds(change)
    counts.add_counts_to(total)
    seconds.store_seconds(total, added)


class Change:
    """A pending change to one tally: the events of a batch add into this, and it is added to
    the stored tallies once. Its fields are native ints and floats when compiled, so adding an
    event to it is native arithmetic; adding into a list's items would be a generic add and a
    new object each time. Its seconds are floats from the start, as the compiled engine's
    were already (event fields are doubles there)."""

    def __init__(self) -> None:
        self.offered = 0
        self.answered = 0
        self.answered_within_threshold = 0
        self.abandoned = 0
        self.short_abandoned = 0
        self.abandoned_within_threshold = 0
        self.handled = 0
        self.wait_seconds = 0.0
        self.handle_seconds = 0.0
        # Spell points, as in the tally: count, offsets in their buckets, bucket starts.
        self.busy_starts = 0
        self.busy_start_offsets = 0.0
        self.busy_start_buckets = 0
        self.busy_ends = 0
        self.busy_end_offsets = 0.0
        self.busy_end_buckets = 0
        self.idle_starts = 0
        self.idle_start_offsets = 0.0
        self.idle_start_buckets = 0
        self.idle_ends = 0
        self.idle_end_offsets = 0.0
        self.idle_end_buckets = 0

    def add_point(self, points: int, offset: float, bucket: int) -> None:
        """One spell point at tally offset `points` (BUSY_STARTS, ...), `offset` seconds into
        the bucket starting at `bucket`."""
        if points == BUSY_STARTS:
            self.busy_starts += 1
            self.busy_start_offsets += offset
            self.busy_start_buckets += bucket
        elif points == BUSY_ENDS:
            self.busy_ends += 1
            self.busy_end_offsets += offset
            self.busy_end_buckets += bucket
        elif points == IDLE_STARTS:
            self.idle_starts += 1
            self.idle_start_offsets += offset
            self.idle_start_buckets += bucket
        else:
            self.idle_ends += 1
            self.idle_end_offsets += offset
            self.idle_end_buckets += bucket

    def add_to(self, total: Tally) -> None:
        """Add this change into a stored tally (zero entries are skipped: most are zero)."""
        self.add_counts_to(total)
        self.add_seconds_to(total)

    def tally(self) -> Tally:
        """The tally that add_to makes of empty(): each number as it stores it, a zero count
        or zero seconds as the int 0 (a bucket's first change, the usual fold)."""
        return [
            self.offered,
            self.answered,
            self.answered_within_threshold,
            self.abandoned,
            self.short_abandoned,
            self.abandoned_within_threshold,
            self.handled,
            _stored(self.wait_seconds),
            _stored(self.handle_seconds),
            self.busy_starts,
            _stored(self.busy_start_offsets),
            self.busy_start_buckets,
            self.busy_ends,
            _stored(self.busy_end_offsets),
            self.busy_end_buckets,
            self.idle_starts,
            _stored(self.idle_start_offsets),
            self.idle_start_buckets,
            self.idle_ends,
            _stored(self.idle_end_offsets),
            self.idle_end_buckets,
        ]

    def read_seconds(self, total: Tally) -> None:
        """Take the seconds of a stored tally (read as floats, as add_seconds_to reads them)."""
        self.wait_seconds = total[WAIT_SECONDS]
        self.handle_seconds = total[HANDLE_SECONDS]
        self.busy_start_offsets = total[BUSY_STARTS + 1]
        self.busy_end_offsets = total[BUSY_ENDS + 1]
        self.idle_start_offsets = total[IDLE_STARTS + 1]
        self.idle_end_offsets = total[IDLE_ENDS + 1]

    def add_seconds(self, other: Change) -> int:
        """Add the seconds of `other` to these as add_seconds_to adds them to a tally's (zeros
        skipped); the bits (_WAIT, ...) of the entries added to."""
        added = 0
        if other.wait_seconds:
            self.wait_seconds += other.wait_seconds
            added |= _WAIT
        if other.handle_seconds:
            self.handle_seconds += other.handle_seconds
            added |= _HANDLE
        if other.busy_start_offsets:
            self.busy_start_offsets += other.busy_start_offsets
            added |= _BUSY_START
        if other.busy_end_offsets:
            self.busy_end_offsets += other.busy_end_offsets
            added |= _BUSY_END
        if other.idle_start_offsets:
            self.idle_start_offsets += other.idle_start_offsets
            added |= _IDLE_START
        if other.idle_end_offsets:
            self.idle_end_offsets += other.idle_end_offsets
            added |= _IDLE_END
        return added

    def store_seconds(self, total: Tally, added: int) -> None:
        """Store the seconds entries whose bits are in `added` into a tally."""
        if added & _WAIT:
            total[WAIT_SECONDS] = self.wait_seconds
        if added & _HANDLE:
            total[HANDLE_SECONDS] = self.handle_seconds
        if added & _BUSY_START:
            total[BUSY_STARTS + 1] = self.busy_start_offsets
        if added & _BUSY_END:
            total[BUSY_ENDS + 1] = self.busy_end_offsets
        if added & _IDLE_START:
            total[IDLE_STARTS + 1] = self.idle_start_offsets
        if added & _IDLE_END:
            total[IDLE_ENDS + 1] = self.idle_end_offsets

    def add_counts(self, other: Change) -> None:
        """Add the counts of `other` (its whole numbers: exact in any order) to this one."""
        self.offered += other.offered
        self.answered += other.answered
        self.answered_within_threshold += other.answered_within_threshold
        self.abandoned += other.abandoned
        self.short_abandoned += other.short_abandoned
        self.abandoned_within_threshold += other.abandoned_within_threshold
        self.handled += other.handled
        self.busy_starts += other.busy_starts
        self.busy_start_buckets += other.busy_start_buckets
        self.busy_ends += other.busy_ends
        self.busy_end_buckets += other.busy_end_buckets
        self.idle_starts += other.idle_starts
        self.idle_start_buckets += other.idle_start_buckets
        self.idle_ends += other.idle_ends
        self.idle_end_buckets += other.idle_end_buckets

    def add_counts_to(self, total: Tally) -> None:
        """The whole numbers of add_to."""
        # Each stored number is read as an int (as a float in add_seconds_to): compiled, the
        # addition is then native, where adding two boxed numbers is a generic call and `+=` on
        # a list item stays generic too. The same sum of the same type: an int read as a float
        # is the float that adding a float to it converts it to.
        stored: int
        if self.offered:
            stored = total[OFFERED]
            total[OFFERED] = stored + self.offered
        if self.answered:
            stored = total[ANSWERED]
            total[ANSWERED] = stored + self.answered
        if self.answered_within_threshold:
            stored = total[ANSWERED_WITHIN_THRESHOLD]
            total[ANSWERED_WITHIN_THRESHOLD] = stored + self.answered_within_threshold
        if self.abandoned:
            stored = total[ABANDONED]
            total[ABANDONED] = stored + self.abandoned
        if self.short_abandoned:
            stored = total[SHORT_ABANDONED]
            total[SHORT_ABANDONED] = stored + self.short_abandoned
        if self.abandoned_within_threshold:
            stored = total[ABANDONED_WITHIN_THRESHOLD]
            total[ABANDONED_WITHIN_THRESHOLD] = stored + self.abandoned_within_threshold
        if self.handled:
            stored = total[HANDLED]
            total[HANDLED] = stored + self.handled
        if self.busy_starts:
            stored = total[BUSY_STARTS]
            total[BUSY_STARTS] = stored + self.busy_starts
        if self.busy_start_buckets:
            stored = total[BUSY_STARTS + 2]
            total[BUSY_STARTS + 2] = stored + self.busy_start_buckets
        if self.busy_ends:
            stored = total[BUSY_ENDS]
            total[BUSY_ENDS] = stored + self.busy_ends
        if self.busy_end_buckets:
            stored = total[BUSY_ENDS + 2]
            total[BUSY_ENDS + 2] = stored + self.busy_end_buckets
        if self.idle_starts:
            stored = total[IDLE_STARTS]
            total[IDLE_STARTS] = stored + self.idle_starts
        if self.idle_start_buckets:
            stored = total[IDLE_STARTS + 2]
            total[IDLE_STARTS + 2] = stored + self.idle_start_buckets
        if self.idle_ends:
            stored = total[IDLE_ENDS]
            total[IDLE_ENDS] = stored + self.idle_ends
        if self.idle_end_buckets:
            stored = total[IDLE_ENDS + 2]
            total[IDLE_ENDS + 2] = stored + self.idle_end_buckets

    def add_seconds_to(self, total: Tally) -> None:
        """The seconds of add_to: sums of floats, which depend on the order they are added in."""
        stored: float
        if self.wait_seconds:
            stored = total[WAIT_SECONDS]
            total[WAIT_SECONDS] = stored + self.wait_seconds
        if self.handle_seconds:
            stored = total[HANDLE_SECONDS]
            total[HANDLE_SECONDS] = stored + self.handle_seconds
        if self.busy_start_offsets:
            stored = total[BUSY_STARTS + 1]
            total[BUSY_STARTS + 1] = stored + self.busy_start_offsets
        if self.busy_end_offsets:
            stored = total[BUSY_ENDS + 1]
            total[BUSY_ENDS + 1] = stored + self.busy_end_offsets
        if self.idle_start_offsets:
            stored = total[IDLE_STARTS + 1]
            total[IDLE_STARTS + 1] = stored + self.idle_start_offsets
        if self.idle_end_offsets:
            stored = total[IDLE_ENDS + 1]
            total[IDLE_ENDS + 1] = stored + self.idle_end_offsets


class RunningTotal:
    """The total of a rolling window, kept up to date as buckets change and slide out: the
    sum over its buckets of each bucket's numbers, with seconds in whole units (_units).

    Whole numbers add up to the same total in any order, so a total kept up to date since the
    first event equals one built from the stored buckets after a restart, to the bit, and one
    whose buckets all left is exactly zero (a float sum kept by adding and taking away drifts
    and leaves residue). Fields are native ints when compiled."""

    def __init__(self) -> None:
        self.offered = 0
        self.answered = 0
        self.answered_within_threshold = 0
        self.abandoned = 0
        self.short_abandoned = 0
        self.abandoned_within_threshold = 0
        self.handled = 0
        self.wait_units = 0
        self.handle_units = 0
        self.busy_starts = 0
        self.busy_start_units = 0
        self.busy_start_buckets = 0
        self.busy_ends = 0
        self.busy_end_units = 0
        self.busy_end_buckets = 0
        self.idle_starts = 0
        self.idle_start_units = 0
        self.idle_start_buckets = 0
        self.idle_ends = 0
        self.idle_end_units = 0
        self.idle_end_buckets = 0
        self.cached: Tally | None = None

    def add_tally(self, tally: Tally, sign: int) -> None:
        """Add (sign 1) or take away (sign -1) a stored tally, its seconds as units."""
        self.cached = None
        # An entry holding the int 0 (most call entries of a bucket: its calls are few, and a
        # team's are none) is skipped after one `is`; the others are typed reads: compiled, an
        # unboxing each and the arithmetic native. Truncation is symmetric, so the units of a
        # negated number are the negated units.
        entry: Any
        count: int
        seconds: float
        units: int
        # Negated rather than multiplied by the sign: compiled, a product takes a generic path
        # for any negative factor.
        away = sign < 0
        entry = tally[OFFERED]
        if entry is not _ZERO:
            count = entry
            self.offered += -count if away else count
        entry = tally[ANSWERED]
        if entry is not _ZERO:
            count = entry
            self.answered += -count if away else count
        entry = tally[ANSWERED_WITHIN_THRESHOLD]
        if entry is not _ZERO:
            count = entry
            self.answered_within_threshold += -count if away else count
        entry = tally[ABANDONED]
        if entry is not _ZERO:
            count = entry
            self.abandoned += -count if away else count
        entry = tally[SHORT_ABANDONED]
        if entry is not _ZERO:
            count = entry
            self.short_abandoned += -count if away else count
        entry = tally[ABANDONED_WITHIN_THRESHOLD]
        if entry is not _ZERO:
            count = entry
            self.abandoned_within_threshold += -count if away else count
        entry = tally[HANDLED]
        if entry is not _ZERO:
            count = entry
            self.handled += -count if away else count
        entry = tally[WAIT_SECONDS]
        if entry is not _ZERO:
            seconds = entry
            units = _units(seconds)
            self.wait_units += -units if away else units
        entry = tally[HANDLE_SECONDS]
        if entry is not _ZERO:
            seconds = entry
            units = _units(seconds)
            self.handle_units += -units if away else units
        entry = tally[BUSY_STARTS]
        if entry is not _ZERO:
            count = entry
            self.busy_starts += -count if away else count
        entry = tally[BUSY_STARTS + 1]
        if entry is not _ZERO:
            seconds = entry
            units = _units(seconds)
            self.busy_start_units += -units if away else units
        entry = tally[BUSY_STARTS + 2]
        if entry is not _ZERO:
            count = entry
            self.busy_start_buckets += -count if away else count
        entry = tally[BUSY_ENDS]
        if entry is not _ZERO:
            count = entry
            self.busy_ends += -count if away else count
        entry = tally[BUSY_ENDS + 1]
        if entry is not _ZERO:
            seconds = entry
            units = _units(seconds)
            self.busy_end_units += -units if away else units
        entry = tally[BUSY_ENDS + 2]
        if entry is not _ZERO:
            count = entry
            self.busy_end_buckets += -count if away else count
        entry = tally[IDLE_STARTS]
        if entry is not _ZERO:
            count = entry
            self.idle_starts += -count if away else count
        entry = tally[IDLE_STARTS + 1]
        if entry is not _ZERO:
            seconds = entry
            units = _units(seconds)
            self.idle_start_units += -units if away else units
        entry = tally[IDLE_STARTS + 2]
        if entry is not _ZERO:
            count = entry
            self.idle_start_buckets += -count if away else count
        entry = tally[IDLE_ENDS]
        if entry is not _ZERO:
            count = entry
            self.idle_ends += -count if away else count
        entry = tally[IDLE_ENDS + 1]
        if entry is not _ZERO:
            seconds = entry
            units = _units(seconds)
            self.idle_end_units += -units if away else units
        entry = tally[IDLE_ENDS + 2]
        if entry is not _ZERO:
            count = entry
            self.idle_end_buckets += -count if away else count

    def add_change(self, change: Change) -> None:
        """add_tally(change.tally(), 1) without making the tally: the same numbers (a zero
        in units is zero, whether the int 0 or a float), read natively."""
        self.cached = None
        self.offered += change.offered
        self.answered += change.answered
        self.answered_within_threshold += change.answered_within_threshold
        self.abandoned += change.abandoned
        self.short_abandoned += change.short_abandoned
        self.abandoned_within_threshold += change.abandoned_within_threshold
        self.handled += change.handled
        self.wait_units += _units(change.wait_seconds)
        self.handle_units += _units(change.handle_seconds)
        self.busy_starts += change.busy_starts
        self.busy_start_units += _units(change.busy_start_offsets)
        self.busy_start_buckets += change.busy_start_buckets
        self.busy_ends += change.busy_ends
        self.busy_end_units += _units(change.busy_end_offsets)
        self.busy_end_buckets += change.busy_end_buckets
        self.idle_starts += change.idle_starts
        self.idle_start_units += _units(change.idle_start_offsets)
        self.idle_start_buckets += change.idle_start_buckets
        self.idle_ends += change.idle_ends
        self.idle_end_units += _units(change.idle_end_offsets)
        self.idle_end_buckets += change.idle_end_buckets

    def add_total(self, other: RunningTotal) -> None:
        self.cached = None
        self.offered += other.offered
        self.answered += other.answered
        self.answered_within_threshold += other.answered_within_threshold
        self.abandoned += other.abandoned
        self.short_abandoned += other.short_abandoned
        self.abandoned_within_threshold += other.abandoned_within_threshold
        self.handled += other.handled
        self.wait_units += other.wait_units
        self.handle_units += other.handle_units
        self.busy_starts += other.busy_starts
        self.busy_start_units += other.busy_start_units
        self.busy_start_buckets += other.busy_start_buckets
        self.busy_ends += other.busy_ends
        self.busy_end_units += other.busy_end_units
        self.busy_end_buckets += other.busy_end_buckets
        self.idle_starts += other.idle_starts
        self.idle_start_units += other.idle_start_units
        self.idle_start_buckets += other.idle_start_buckets
        self.idle_ends += other.idle_ends
        self.idle_end_units += other.idle_end_units
        self.idle_end_buckets += other.idle_end_buckets

    def tally(self) -> Tally:
        """The total as a tally, seconds as floats: the same list (holding the same number
        objects) until the total changes, so a snapshot recognises an unchanged window. Never
        changed in place: a change makes a new list (Window holds it as given)."""
        cached = self.cached
        if cached is None:
            cached = self.cached = [
                self.offered,
                self.answered,
                self.answered_within_threshold,
                self.abandoned,
                self.short_abandoned,
                self.abandoned_within_threshold,
                self.handled,
                self.wait_units / _UNITS_PER_SECOND,
                self.handle_units / _UNITS_PER_SECOND,
                self.busy_starts,
                self.busy_start_units / _UNITS_PER_SECOND,
                self.busy_start_buckets,
                self.busy_ends,
                self.busy_end_units / _UNITS_PER_SECOND,
                self.busy_end_buckets,
                self.idle_starts,
                self.idle_start_units / _UNITS_PER_SECOND,
                self.idle_start_buckets,
                self.idle_ends,
                self.idle_end_units / _UNITS_PER_SECOND,
                self.idle_end_buckets,
            ]
        return cached


def _spell_sums(tally: Tally, starts: int, ends: int) -> tuple[Any, Any, Any]:
    """The parts of the seconds of one kind of spell that do not depend on the window (see the
    module docstring): sum(ends) - sum(starts) as (offsets, bucket starts, spells), each an
    int or a float as the tally's numbers make it. For a window [s, e) the seconds are
    offsets + (bucket starts - s * spells) + n_open * (e - s)."""
    return (
        tally[ends + 1] - tally[starts + 1],
        tally[ends + 2] - tally[starts + 2],
        tally[ends] - tally[starts],
    )


def _spell_seconds(sums: tuple[Any, Any, Any], start: int) -> float:
    """The seconds of _spell_sums' spells from `start`, but the open spells' part: offsets +
    (bucket starts - start * spells), as a float (as Python converts an int added to one)."""
    offsets, points, spells = sums
    return float(offsets + (points - start * spells))


# Bounds within which SpellSums' int part fits a machine integer: |start * spells| < 2**62
# and |bucket starts| < 2**62, so their difference stays below 2**63. The points' bound is
# the largest int compiled code keeps unboxed: comparing with 2**62 itself is a generic call.
_START_BOUND: Final = 1 << 32
_SPELLS_BOUND: Final = 1 << 30
_POINTS_LIMIT: Final = (1 << 62) - 1


def _offsets(entry: Any) -> bool:
    """Whether a tally's offsets entry reads natively as the float Python computes with: a
    float, or the int 0 (exactly 0.0 in any sum with a float)."""
    return type(entry) is float or (type(entry) is int and entry == 0)


class SpellSums:
    """_spell_sums of one kind of spell in a window's tally, with _spell_seconds of them.

    Compiled, the usual numbers (float offsets, whole bucket starts and spells within the
    bounds) are kept as machine numbers: reading them is native arithmetic, with no tuple
    and no generic subtraction, and finishing them for a window start is a few instructions.
    Other numbers keep _spell_sums' tuple, for _spell_seconds."""

    def __init__(self) -> None:
        self.usual = False
        self.offsets = 0.0
        self.points: i64 = 0
        self.spells: i64 = 0
        self.sums: tuple[Any, Any, Any] = (0, 0, 0)

    def read(self, tally: Tally, starts: int, ends: int) -> None:
        start_offsets: Any = tally[starts + 1]
        end_offsets: Any = tally[ends + 1]
        start_points: Any = tally[starts + 2]
        end_points: Any = tally[ends + 2]
        start_spells: Any = tally[starts]
        end_spells: Any = tally[ends]
        if (
            _offsets(start_offsets)
            and _offsets(end_offsets)
            and type(start_points) is int
            and type(end_points) is int
            and type(start_spells) is int
            and type(end_spells) is int
        ):
            # Typed reads of what the checks found: unboxings, and the arithmetic native. An
            # int 0 read as a float is 0.0, which a float minus it (or it minus one) is too.
            begun: float = start_offsets
            ended: float = end_offsets
            first: int = start_points
            last: int = end_points
            opened: int = start_spells
            closed: int = end_spells
            points = last - first
            spells = closed - opened
            whole_points = -_POINTS_LIMIT <= points <= _POINTS_LIMIT
            if whole_points and -_SPELLS_BOUND < spells < _SPELLS_BOUND:
                self.usual = True
                self.offsets = ended - begun
                self.points = i64(points)
                self.spells = i64(spells)
                return
        self.usual = False
        self.sums = _spell_sums(tally, starts, ends)

    def seconds(self, start: int) -> float:
        """_spell_seconds of the sums from `start`."""
        if not self.usual:
            return _spell_seconds(self.sums, start)
        if 0 <= start < _START_BOUND:
            # Machine integers: no product or difference within the bounds can overflow.
            # Compiled, a tagged int's product with an epoch start is a generic call.
            return self.offsets + float(self.points - i64(start) * self.spells)
        return _spell_seconds((self.offsets, int(self.points), int(self.spells)), start)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def whole(count: Any) -> int:
    """int(count) without calling int (a generic call, compiled) for what is one already."""
    return count if type(count) is int else int(count)


def str_keyed(*fields: tuple[str, Any]) -> dict[str, Any]:
    """A dict of (name, value) pairs, filled in one key at a time, as a template to copy.

    CPython 3.11 presizes a dict literal of more than five keys with entries that store each
    key's hash: twelve keys take 536 bytes, over pymalloc's 512, so every copy of such a template
    went to glibc's malloc (a snapshot makes about 8,000 of them). Filled from empty, a dict of
    str keys keeps the compact kind, 400 bytes for twelve, which pymalloc serves."""
    template: dict[str, Any] = {}
    for name, value in fields:
        template[name] = value
    return template


# A queue window object's fields in their published order, which _queue_figures fills in: a
# copy of this costs about half of building the dict of twelve keys.
_QUEUE_WINDOW_FIELDS: Final[dict[str, Any]] = str_keyed(
    ("offered", 0),
    ("answered", 0),
    ("answered_within_threshold", 0),
    ("abandoned", 0),
    ("short_abandoned", 0),
    ("abandoned_within_threshold", 0),
    ("handled", 0),
    ("service_level", None),
    ("asa_seconds", None),
    ("abandon_rate", None),
    ("aht_seconds", None),
    ("occupancy", None),
)


def _queue_figures(tally: Tally, settings: QueueSettings) -> dict[str, Any]:
    """A queue window object with every figure but occupancy (None, last). Counts are whole
    (ints; a float one is read as int() of it, as the object shows it) and typed, so that,
    compiled, the figures are native arithmetic."""
    answered = whole(tally[ANSWERED])
    abandoned = whole(tally[ABANDONED])
    short = whole(tally[SHORT_ABANDONED])
    within = whole(tally[ANSWERED_WITHIN_THRESHOLD])
    abandoned_within = whole(tally[ABANDONED_WITHIN_THRESHOLD])
    handled = whole(tally[HANDLED])
    counted_abandons = abandoned - short
    formula = settings.service_level_formula
    if formula == "offered":
        service_level = _ratio(within, answered + counted_abandons)
    elif formula == "answered":
        service_level = _ratio(within, answered)
    else:  # "removed"
        service_level = _ratio(within + abandoned_within, answered + abandoned)
    wait_seconds: float = tally[WAIT_SECONDS]
    handle_seconds: float = tally[HANDLE_SECONDS]
    # The template holds 0 and None: a figure that is one of them (the int 0 is one cached
    # object) is left as it is. Each store into a dict is ~140 instructions; a window's
    # abandons are mostly none.
    figures = _QUEUE_WINDOW_FIELDS.copy()
    offered = whole(tally[OFFERED])
    if offered:
        figures["offered"] = offered
    if answered:
        figures["answered"] = answered
    if within:
        figures["answered_within_threshold"] = within
    if abandoned:
        figures["abandoned"] = abandoned
    if short:
        figures["short_abandoned"] = short
    if abandoned_within:
        figures["abandoned_within_threshold"] = abandoned_within
    if handled:
        figures["handled"] = handled
    if service_level is not None:
        figures["service_level"] = service_level
    if answered:
        figures["asa_seconds"] = wait_seconds / answered
    abandon_rate = _ratio(counted_abandons, answered + counted_abandons)
    if abandon_rate is not None:
        figures["abandon_rate"] = abandon_rate
    if handled:
        figures["aht_seconds"] = handle_seconds / handled
    return figures


# What a new Window holds: no tally (never changed; _hold replaces it).
_NOTHING_HELD: Final[list] = []


class Window:
    """One window of one queue or team, as the previous snapshot computed it.

    A tally changes only by having numbers replaced (numbers are immutable objects), so while
    it holds the very objects it held then (kept alive here, so none can be a new number at a
    reused address), every figure computed from it is the same: a snapshot recomputes only the
    windows whose tally changed. Occupancy counts open spells up to the snapshot's `end`, so it
    is finished every time, from the part of the spell seconds that does not depend on `end`.
    """

    def __init__(self) -> None:
        # The tally held: the caller's own list when it is never changed in place (a running
        # total's), so the same list holds the same numbers; otherwise a private copy, which
        # no caller can pass back.
        self.held: list = _NOTHING_HELD
        self.settings: QueueSettings | None = None
        self.start = 0
        self.figures: dict[str, Any] = {}
        # _spell_sums of the tally, so a window that only moved reads none of its numbers
        self.busy_sums = SpellSums()
        self.idle_sums = SpellSums()
        # The seconds of busy and idle spells from `start` but the open spells' part, as
        # _occupancy reads them: a float (an int sum plus a float converts the int first).
        self.busy = 0.0
        self.idle = 0.0

    def queue(
        self,
        tally: Tally,
        settings: QueueSettings,
        start: int,
        end: float,
        busy_open: int,
        idle_open: int,
        fixed: bool = False,
    ) -> dict[str, Any]:
        """The window object of a queue's snapshot (runs for every queue and window each
        publish): DESIGN's figures of `tally`, the window [start, end). `fixed`: the tally is
        never changed in place."""
        if settings is not self.settings or not self._holds(tally):
            self.figures = _queue_figures(tally, settings)
            self.settings = settings
            self._hold(tally, start, fixed)
        elif start != self.start:
            self._close(start)
        window = self.figures.copy()  # a new object per snapshot: the caller may change it
        window["occupancy"] = self._occupancy(end - start, busy_open, idle_open)
        return window

    def team(
        self,
        tally: Tally,
        start: int,
        end: float,
        busy_open: int,
        idle_open: int,
        fixed: bool = False,
    ) -> dict[str, Any]:
        """The window object of a team's snapshot."""
        if not self._holds(tally):
            self._hold(tally, start, fixed)
        elif start != self.start:
            self._close(start)
        return {"occupancy": self._occupancy(end - start, busy_open, idle_open)}

    def _holds(self, tally: Tally) -> bool:
        held = self.held
        if tally is held:
            return True
        if len(held) != len(tally):
            return False
        # Lengths are equal; mypyc compiles all() over a zip of positional arguments only to
        # a loop of unchecked reads.
        return all(kept is value for kept, value in zip(held, tally))  # noqa: B905

    def _hold(self, tally: Tally, start: int, fixed: bool) -> None:
        self.held = tally if fixed else tally.copy()  # the caller may change a tally not fixed
        self.busy_sums.read(tally, BUSY_STARTS, BUSY_ENDS)
        self.idle_sums.read(tally, IDLE_STARTS, IDLE_ENDS)
        self._close(start)

    def _close(self, start: int) -> None:
        self.start = start
        self.busy = self.busy_sums.seconds(start)
        self.idle = self.idle_sums.seconds(start)

    def _occupancy(self, span: float, busy_open: int, idle_open: int) -> float | None:
        """busy / (busy + idle) seconds of the window, `span` seconds long; None without agent
        time."""
        busy = self.busy + busy_open * span
        idle = self.idle + idle_open * span
        # max(0.0, x), as mypyc compiles it: a negative rounding residue is no time
        busy = busy if busy > 0.0 else 0.0
        idle = idle if idle > 0.0 else 0.0
        if busy + idle < _NO_TIME:
            return None
        return busy / (busy + idle)
