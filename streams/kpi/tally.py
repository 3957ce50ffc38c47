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


# Tallies are plain lists of ints and floats (counts stay ints, so sums of epoch seconds stay
# exact). `Tally` is `list` rather than list[float] so the compiled engine keeps those types too.
Tally = list


def empty() -> Tally:
    return [0] * WIDTH


def add_into(total: Tally, tally: Tally, sign: int = 1) -> None:
    # Most entries of a change are zero (a team has no calls, a call no agent time).
    if sign == 1:
        for index in range(WIDTH):
            value = tally[index]
            if value:
                total[index] += value
    else:
        for index in range(WIDTH):
            value = tally[index]
            if value:
                total[index] -= value


def nested_totals(tallies: list, counts: list[int]) -> list[Tally]:
    """The totals of the first counts[0], counts[1], ... tallies (counts ascending, each at
    most len(tallies)), as add_into would build them adding the tallies one by one in list
    order: the same sums, of the same types, to the last bit. Column by column with sum(),
    which adds unboxed (C longs while the column's values are ints, then C doubles), where
    add_into makes a new number object per addition."""
    totals: list[Tally] = [empty() for _ in counts]
    if not tallies:
        return totals
    for index, column in enumerate(zip(*tallies, strict=True)):
        # A zero is skipped by add_into; sum() adds it, which changes nothing: entries are ints
        # until a nonzero float arrives, and x + 0 == x for the non-negative floats of a tally.
        running: Any = 0
        done = 0
        for window, count in enumerate(counts):
            if count > done:
                running = sum(column[done:count], running)
                done = count
            totals[window][index] = running
    return totals


def spell_seconds(
    tally: Tally, starts: int, ends: int, start: int, end: float, open_spells: int
) -> float:
    """Seconds of one kind of spell inside [start, end); see the module docstring."""
    whole = tally[ends + 2] - tally[starts + 2] - start * (tally[ends] - tally[starts])
    return (tally[ends + 1] - tally[starts + 1]) + whole + open_spells * (end - start)


def occupancy(tally: Tally, start: int, end: float, busy_open: int, idle_open: int) -> float | None:
    busy = max(0.0, spell_seconds(tally, BUSY_STARTS, BUSY_ENDS, start, end, busy_open))
    idle = max(0.0, spell_seconds(tally, IDLE_STARTS, IDLE_ENDS, start, end, idle_open))
    if busy + idle < _NO_TIME:
        return None
    return busy / (busy + idle)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def queue_window(
    tally: Tally,
    settings: QueueSettings,
    start: int,
    end: float,
    busy_open: int,
    idle_open: int,
) -> dict[str, Any]:
    """One window object of a queue's snapshot (runs for every queue and window each publish)."""
    answered = tally[ANSWERED]
    abandoned = tally[ABANDONED]
    short = tally[SHORT_ABANDONED]
    within = tally[ANSWERED_WITHIN_THRESHOLD]
    abandoned_within = tally[ABANDONED_WITHIN_THRESHOLD]
    handled = tally[HANDLED]
    counted_abandons = abandoned - short
    formula = settings.service_level_formula
    if formula == "offered":
        service_level = _ratio(within, answered + counted_abandons)
    elif formula == "answered":
        service_level = _ratio(within, answered)
    else:  # "removed"
        service_level = _ratio(within + abandoned_within, answered + abandoned)
    return {
        "offered": int(tally[OFFERED]),
        "answered": int(answered),
        "answered_within_threshold": int(within),
        "abandoned": int(abandoned),
        "short_abandoned": int(short),
        "abandoned_within_threshold": int(abandoned_within),
        "handled": int(handled),
        "service_level": service_level,
        "asa_seconds": tally[WAIT_SECONDS] / answered if answered else None,
        "abandon_rate": _ratio(counted_abandons, answered + counted_abandons),
        "aht_seconds": tally[HANDLE_SECONDS] / handled if handled else None,
        "occupancy": occupancy(tally, start, end, busy_open, idle_open),
    }


def team_window(
    tally: Tally, start: int, end: float, busy_open: int, idle_open: int
) -> dict[str, Any]:
    return {"occupancy": occupancy(tally, start, end, busy_open, idle_open)}
