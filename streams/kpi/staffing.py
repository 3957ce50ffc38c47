"""Live staffing per queue: agents needed now (Erlang C) against productive agents.

Pure: the engine passes the counts of the queue's staffing window (`staffing_window` in the
configuration) and gets the `staffing` object of the queue's snapshot back.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from streams.config import QueueSettings
from streams.kpi.erlang import ERLANG_C, MAX_TRAFFIC_ERLANGS, exact, minimum_agents


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
    if offered < 0 or handled < 0 or productive_agents < 0:
        raise ValueError("offered, handled and productive_agents must be 0 or more")
    if not (window_seconds > 0 and math.isfinite(window_seconds)):
        raise ValueError(f"window_seconds must be a finite number above 0, got {window_seconds}")
    if not math.isfinite(handle_seconds_sum):
        raise ValueError(f"handle_seconds_sum must be a finite number, got {handle_seconds_sum}")
    # Exact fractions, so that e.g. 100 calls in 1800 s at 180 s AHT is exactly 10 Erlangs.
    # The sum is a float running total (added as calls enter the window, subtracted as they
    # leave), so it can drift a hair below 0, or hold a residue when nothing is handled.
    measured = exact(max(handle_seconds_sum, 0.0)) / handled if handled else None
    aht = measured if measured is not None else exact(settings.aht_seconds)
    rate = Fraction(offered) / exact(window_seconds)
    traffic = rate * aht
    required: int | None
    if offered == 0:
        required = 0
    elif settings.service_level_target >= 1 or traffic > MAX_TRAFFIC_ERLANGS:
        required = None
    elif aht == 0:
        required = 1
    else:
        required = minimum_agents(
            rate,
            aht,
            settings.service_level_threshold_seconds,
            settings.service_level_target,
        )
    return {
        "required_agents": required,
        "productive_agents": productive_agents,
        "gap": None if required is None else productive_agents - required,
        "model": ERLANG_C,
        "traffic_erlangs": float(traffic),
        "aht_seconds": float(aht),
    }
