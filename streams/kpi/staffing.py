"""Live staffing per queue: agents needed now (Erlang C) against productive agents.

Pure: the engine passes the counts of the queue's staffing window (`staffing_window` in the
configuration) and gets the `staffing` object of the queue's snapshot back.
"""

from __future__ import annotations

import math
from typing import Any, Final

from streams.config import QueueSettings
from streams.kpi.erlang import (
    ERLANG_C,
    LARGEST_FLOAT,
    MAX_TRAFFIC_ERLANGS,
    exact_float,
    exact_ratio,
    minimum_agents_erlang_c,
    quotient,
)
from streams.kpi.tally import str_keyed


class StaffingLoad:
    """The part of a queue's staffing that depends on its window counts, not on its agents.

    A plain class, not a NamedTuple: compiled, it is built and read without calling Python
    code (a NamedTuple's __new__ is a Python function)."""

    def __init__(
        self, required_agents: int | None, traffic_erlangs: float, aht_seconds: float
    ) -> None:
        self.required_agents = required_agents
        self.traffic_erlangs = traffic_erlangs
        self.aht_seconds = aht_seconds


def live_staffing(
    offered: int,
    window_seconds: float,
    handled: int,
    handle_seconds_sum: float,
    productive_agents: int,
    settings: QueueSettings,
) -> dict[str, Any]:
    """Agents the queue needs for its own service level target, and the gap to what it has.

    - arrival rate = offered / window_seconds; AHT = handle_seconds_sum / handled, or the
      queue's `aht_seconds` setting while nothing has been handled in the window. A sum a
      rounding error below 0 counts as 0.
    - required_agents: the fewest agents whose Erlang C service level within the queue's
      `service_level_threshold_seconds` reaches its `service_level_target`.
      No calls offered in the window -> 0 (nothing to answer). Calls offered but a measured
      AHT of 0 -> 1 (someone must still answer). A target of 1.0 can never be met by Erlang C
      (some call always waits) -> None; so does traffic above MAX_TRAFFIC_ERLANGS (a million
      Erlangs: broken counts, not a contact centre), rather than minutes of computation.
    - gap = productive_agents - required_agents: negative means short of agents; None when
      required_agents is None.
    """
    if productive_agents < 0:
        raise ValueError("offered, handled and productive_agents must be 0 or more")
    load = staffing_load(offered, window_seconds, handled, handle_seconds_sum, settings)
    return staffing_object(load, productive_agents)


def staffing_load(
    offered: int,
    window_seconds: float,
    handled: int,
    handle_seconds_sum: float,
    settings: QueueSettings,
) -> StaffingLoad:
    """required_agents, traffic and AHT of `live_staffing` (same arguments but the agents)."""
    if offered < 0 or handled < 0:
        raise ValueError("offered, handled and productive_agents must be 0 or more")
    # The range tests spare the usual finite counts math.isfinite (a generic call compiled).
    if not (
        window_seconds > 0 and (window_seconds <= LARGEST_FLOAT or math.isfinite(window_seconds))
    ):
        raise ValueError(f"window_seconds must be a finite number above 0, got {window_seconds}")
    if not (
        -LARGEST_FLOAT <= handle_seconds_sum <= LARGEST_FLOAT or math.isfinite(handle_seconds_sum)
    ):
        raise ValueError(f"handle_seconds_sum must be a finite number, got {handle_seconds_sum}")
    # Exact rational arithmetic (`erlang.exact`: a float is the decimal it prints as), so that
    # e.g. 100 calls in 1800 s at 180 s AHT is exactly 10 Erlangs; in integer numerators and
    # denominators rather than Fractions, which cost ten times as much. A quotient of two ints
    # is correctly rounded, as float() of the Fraction is. A sum a rounding error below 0
    # (a caller's float running total) counts as 0.
    if handled:
        handle, handle_scale = exact_ratio(max(handle_seconds_sum, 0.0))
        aht, aht_scale = handle, handle_scale * handled
    else:
        aht, aht_scale = exact_ratio(settings.aht_seconds)
    window, window_scale = exact_ratio(window_seconds)
    # traffic = offered / window * aht
    traffic, traffic_scale = offered * window_scale * aht, window * aht_scale
    traffic_erlangs, aht_seconds = quotient(traffic, traffic_scale), quotient(aht, aht_scale)
    required: int | None
    if offered == 0:
        required = 0
    elif settings.service_level_target >= 1 or traffic > MAX_TRAFFIC_ERLANGS * traffic_scale:
        required = None
    elif aht_seconds == 0.0:
        # An AHT of 0, or one too small for a float (below 5e-324 s): no call waits, so one
        # agent meets any target below 1.
        required = 1
    else:
        # minimum_agents_erlang_c refuses what the configuration cannot hold (a negative
        # threshold, a target of 0).
        required = minimum_agents_erlang_c(
            traffic_erlangs,
            aht_seconds,
            exact_float(settings.service_level_threshold_seconds),
            exact_float(settings.service_level_target),
        )
    return StaffingLoad(required, traffic_erlangs, aht_seconds)


# The staffing object's fields in their published order, filled in by staffing_object: a
# copy of this costs less than building the dict (six keys outgrow a new dict's table); see
# str_keyed.
_STAFFING_FIELDS: Final[dict[str, Any]] = str_keyed(
    ("required_agents", None),
    ("productive_agents", 0),
    ("gap", None),
    ("model", ERLANG_C),
    ("traffic_erlangs", 0.0),
    ("aht_seconds", 0.0),
)


def staffing_object(load: StaffingLoad, productive_agents: int) -> dict[str, Any]:
    """The snapshot's `staffing` object of a queue with this load and productive agents."""
    required = load.required_agents
    figures = _STAFFING_FIELDS.copy()
    figures["required_agents"] = required
    figures["productive_agents"] = productive_agents
    if required is not None:
        figures["gap"] = productive_agents - required
    figures["traffic_erlangs"] = load.traffic_erlangs
    figures["aht_seconds"] = load.aht_seconds
    return figures
