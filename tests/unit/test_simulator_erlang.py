"""Long-run statistics of the simulator against queueing theory.

With Poisson arrivals, exponential handle times, agents always logged in and no abandonment,
the simulated queue is M/M/n: its probability of waiting, service level and ASA must agree with
Erlang C. With exponential patience it is M/M/n+M and must agree with Erlang A
(`streams.kpi.erlang`). Tolerances come from the data: the run is cut into consecutive batches
(each many busy periods long, so batch means are close to independent), the standard error is
the spread of the batch means over sqrt(batches), and an estimate must lie within 4 standard
errors of theory (a false alarm about once in 16,000 runs; the seeds are fixed anyway). Each test
also checks that the same tolerance would reject the theory for one agent fewer, so the
comparison has the power to catch a wrong simulator.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from streams.kpi.erlang import Performance, erlang_a, erlang_c
from streams.simulator.ledger import ABANDONED, ANSWERED, CallRecord, Ledger
from streams.simulator.model import Simulation
from streams.simulator.scenario import scenario_from_mapping
from streams.simulator.timestamps import epoch_stamp

START = 1_795_392_000.0  # 2026-11-23T00:00:00Z
AGENTS = 10
AHT = 180.0
TRAFFIC = 8.5  # Erlangs: 85 % occupancy under Erlang C
RATE = TRAFFIC / AHT  # calls per second
THRESHOLD = 20.0
HOURS = 500  # about 85,000 calls
WARM_UP_HOURS = 2
BATCHES = 25
SIGMAS = 4.0


def simulate(patience: float | None, seed: int) -> list[CallRecord]:
    """Calls offered after the warm-up and early enough to be resolved before the end."""
    queue: dict[str, Any] = {
        "volume": [RATE * 3600] * 24,
        "talk": {"distribution": "exponential", "mean": AHT},
        "patience": "none"
        if patience is None
        else {"distribution": "exponential", "mean": patience},
    }
    scenario = scenario_from_mapping(
        {
            "scenario": {
                "opens": "00:00",
                "closes": "24:00",
                "interval_minutes": 60,
                "login_spread_minutes": 0,
            },
            "queues": {"q": queue},
            "agents": [{"count": AGENTS, "queues": ["q"], "shift": "00:00-24:00"}],
        },
        source="erlang",
    )
    ledger = Ledger()
    simulation = Simulation(scenario, START, seed=seed, ledger=ledger, stamp=epoch_stamp())
    for _ in simulation.events(START + HOURS * 3600):
        pass
    first = (START + WARM_UP_HOURS * 3600) * 1000
    last = (START + (HOURS - 1) * 3600) * 1000
    return [call for call in ledger.calls if first <= call.offered_ms < last]


def batch_estimate(
    calls: list[CallRecord],
    numerator: Callable[[CallRecord], float],
    denominator: Callable[[CallRecord], float] = lambda call: 1.0,
) -> tuple[float, float]:
    """(overall ratio, standard error from batch means) of sum(numerator) / sum(denominator)."""
    size = len(calls) // BATCHES
    means = []
    for index in range(BATCHES):
        batch = calls[index * size : (index + 1) * size]
        means.append(sum(map(numerator, batch)) / sum(map(denominator, batch)))
    overall = sum(map(numerator, calls)) / sum(map(denominator, calls))
    return overall, statistics.stdev(means) / math.sqrt(BATCHES)


def check(name: str, estimate: tuple[float, float], theory: float, fewer: float) -> None:
    value, error = estimate
    tolerance = SIGMAS * error
    assert abs(value - theory) <= tolerance, (
        f"{name}: simulated {value:.4f} +- {error:.4f}, theory {theory:.4f}"
    )
    # Power: one agent fewer gives a value this comparison would reject.
    assert abs(value - fewer) > tolerance, f"{name}: cannot tell {theory:.4f} from {fewer:.4f}"


def waited(call: CallRecord) -> float:
    return float(call.wait_ms > 0)


def answered(call: CallRecord) -> float:
    return float(call.status == ANSWERED)


def answered_within(call: CallRecord) -> float:
    return float(call.status == ANSWERED and call.wait_ms <= THRESHOLD * 1000)


def answered_wait(call: CallRecord) -> float:
    return call.wait_ms / 1000 if call.status == ANSWERED else 0.0


def test_no_abandonment_agrees_with_erlang_c() -> None:
    calls = simulate(patience=None, seed=101)
    assert len(calls) > 80_000
    assert all(call.status == ANSWERED for call in calls)
    theory: Performance = erlang_c(AGENTS, RATE, AHT, THRESHOLD)
    fewer: Performance = erlang_c(AGENTS - 1, RATE, AHT, THRESHOLD)
    # The "one agent fewer" queue is barely stable (94 % occupancy): its values are far off.
    check("P(wait)", batch_estimate(calls, waited), theory.wait_probability, fewer.wait_probability)
    check(
        "service level",
        batch_estimate(calls, answered_within),
        theory.service_level,
        fewer.service_level,
    )
    check(
        "ASA", batch_estimate(calls, answered_wait, answered), theory.asa_seconds, fewer.asa_seconds
    )


def test_exponential_patience_agrees_with_erlang_a() -> None:
    patience = 120.0
    calls = simulate(patience=patience, seed=202)
    assert len(calls) > 80_000
    theory: Performance = erlang_a(AGENTS, RATE, AHT, patience, THRESHOLD)
    fewer: Performance = erlang_a(AGENTS - 1, RATE, AHT, patience, THRESHOLD)
    check("P(wait)", batch_estimate(calls, waited), theory.wait_probability, fewer.wait_probability)
    check(
        "abandon probability",
        batch_estimate(calls, lambda call: float(call.status == ABANDONED)),
        theory.abandon_probability,
        fewer.abandon_probability,
    )
    check(
        "service level",
        batch_estimate(calls, answered_within),
        theory.service_level,
        fewer.service_level,
    )
    check(
        "ASA", batch_estimate(calls, answered_wait, answered), theory.asa_seconds, fewer.asa_seconds
    )
