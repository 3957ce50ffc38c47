"""Erlang A (M/M/n+M) against an independent truncated birth-death chain, plus its limits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kpi.erlang import (
    ERLANG_A,
    erlang_a,
    erlang_c,
    evaluate,
    minimum_agents,
)


@dataclass(frozen=True)
class ChainMeasures:
    wait_probability: float
    abandon_probability: float
    abandon_probability_by_little: float
    service_level: float
    asa_seconds: float
    occupancy: float


def birth_death_chain(
    agents: int, rate: float, aht: float, patience: float, threshold: float, queue_cap: int
) -> ChainMeasures:
    """Performance of M/M/n+M from the CTMC on 0..agents+queue_cap calls in the system.

    Stationary law from the cut equations of the birth-death chain (in logs, no factorials).
    A tagged arrival that finds j calls queued ahead is followed through its own absorbing
    chain (states: j..0 calls ahead, answered, abandoned): first-step analysis for P(answered)
    and E[wait; answered], uniformization for P(answered within t). Nothing here uses the
    offered-wait density the model integrates.
    """
    service, abandonment = 1.0 / aht, 1.0 / patience
    top = agents + queue_cap
    log_weights = [0.0]
    for calls in range(1, top + 1):
        departures = min(calls, agents) * service + max(calls - agents, 0) * abandonment
        log_weights.append(log_weights[-1] + math.log(rate / departures))
    peak = max(log_weights)
    weights = [math.exp(value - peak) for value in log_weights]
    total = math.fsum(weights)
    stationary = [weight / total for weight in weights]
    assert stationary[-1] < 1e-15, "queue_cap too small for this load"

    ahead = list(range(queue_cap))  # calls ahead of a tagged arrival finding the queue at j
    advance = [agents * service + j * abandonment for j in ahead]
    # First-step analysis, j ahead -> j-1 ahead (or answered from 0 ahead).
    answered, answered_wait = [], []
    previous_answered, previous_wait = 1.0, 0.0
    for j in ahead:
        leave = advance[j] + abandonment
        # E[wait; answered]: the time spent here counts only if the call is answered later.
        previous_wait = advance[j] / leave * (previous_wait + previous_answered / leave)
        previous_answered = advance[j] / leave * previous_answered
        answered.append(previous_answered)
        answered_wait.append(previous_wait)
    # Uniformization: u_k[j] = P(answered within k jumps | j ahead).
    uniform = max(advance) + abandonment
    mean_jumps = uniform * threshold
    within = [0.0] * queue_cap
    current = [0.0] * queue_cap
    jump = 0
    log_poisson = -mean_jumps
    while True:
        poisson = math.exp(log_poisson)
        for j in ahead:
            within[j] += poisson * current[j]
        if jump > mean_jumps and poisson < 1e-18:
            break
        following = [
            (advance[j] / uniform) * (current[j - 1] if j else 1.0)
            + (1.0 - (advance[j] + abandonment) / uniform) * current[j]
            for j in ahead
        ]
        current = following
        jump += 1
        log_poisson += math.log(mean_jumps) - math.log(jump) if mean_jumps > 0 else -math.inf
        if mean_jumps == 0:
            break

    immediate = math.fsum(stationary[:agents])
    queued = stationary[agents : agents + queue_cap]
    served = immediate + math.fsum(p * a for p, a in zip(queued, answered, strict=True))
    mean_queue = math.fsum(max(k - agents, 0) * p for k, p in enumerate(stationary))
    return ChainMeasures(
        wait_probability=math.fsum(stationary[agents:]),
        abandon_probability=1.0 - served,
        abandon_probability_by_little=abandonment * mean_queue / rate,
        service_level=immediate + math.fsum(p * w for p, w in zip(queued, within, strict=True)),
        asa_seconds=math.fsum(p * w for p, w in zip(queued, answered_wait, strict=True)) / served,
        occupancy=math.fsum(min(k, agents) * p for k, p in enumerate(stationary)) / agents,
    )


CASES = [
    # agents, traffic (Erlangs), AHT s, patience s, threshold s, queue cap
    pytest.param(14, 10.0, 180.0, 180.0, 20.0, 300, id="published-example-patience-180"),
    pytest.param(5, 4.0, 120.0, 90.0, 20.0, 300, id="small-team"),
    pytest.param(8, 12.0, 120.0, 60.0, 15.0, 400, id="overloaded"),
    pytest.param(1, 0.5, 300.0, 600.0, 30.0, 300, id="one-agent"),
    pytest.param(50, 50.0, 180.0, 300.0, 20.0, 600, id="critically-loaded"),
    pytest.param(3, 2.0, 180.0, 10.0, 60.0, 300, id="impatient-callers"),
    pytest.param(1, 0.9, 600.0, 10.0, 5.0, 300, id="patience-far-below-aht"),
    pytest.param(20, 15.0, 240.0, 1200.0, 0.0, 600, id="threshold-zero"),
    pytest.param(300, 290.0, 180.0, 200.0, 20.0, 700, id="three-hundred-agents"),
    pytest.param(2000, 1990.0, 180.0, 300.0, 20.0, 900, id="two-thousand-agents"),
    pytest.param(1000, 1100.0, 180.0, 300.0, 30.0, 900, id="thousand-agents-overloaded"),
    pytest.param(5000, 5000.0, 180.0, 240.0, 20.0, 1500, id="five-thousand-agents"),
]


@pytest.mark.parametrize(("agents", "traffic", "aht", "patience", "threshold", "cap"), CASES)
def test_erlang_a_matches_birth_death_chain(agents, traffic, aht, patience, threshold, cap):
    rate = traffic / aht
    chain = birth_death_chain(agents, rate, aht, patience, threshold, cap)
    # The reference agrees with itself: P(abandon) by first-step analysis and by Little's law.
    assert chain.abandon_probability == pytest.approx(chain.abandon_probability_by_little, 1e-9)

    model = erlang_a(agents, rate, aht, patience, threshold)

    assert model.model == ERLANG_A
    assert model.traffic_erlangs == pytest.approx(traffic, rel=1e-12)
    assert model.wait_probability == pytest.approx(chain.wait_probability, rel=1e-9, abs=1e-12)
    assert model.abandon_probability == pytest.approx(
        chain.abandon_probability, rel=1e-8, abs=1e-12
    )
    assert model.service_level == pytest.approx(chain.service_level, rel=1e-9, abs=1e-12)
    assert model.asa_seconds == pytest.approx(chain.asa_seconds, rel=1e-8, abs=1e-12)
    assert model.occupancy == pytest.approx(chain.occupancy, rel=1e-9)
    served_late = 1.0 - model.abandon_probability - model.service_level
    assert model.answered_late_probability == pytest.approx(served_late, abs=1e-12)


def test_service_level_counts_abandoned_calls_as_not_answered():
    # Impatient callers: many abandon within the threshold. Those are offered calls that were
    # not answered within t, so SL + P(abandon) + P(answered late) = 1, and SL is well below
    # the share of calls whose (offered) wait is within t.
    model = erlang_a(3, 2.0 / 180, 180.0, 10.0, 60.0)
    assert model.abandon_probability > 0.05
    total = model.service_level + model.abandon_probability + model.answered_late_probability
    assert total == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("agents", "traffic", "aht", "threshold"),
    [(14, 10.0, 180.0, 20.0), (3, 2.5, 300.0, 30.0), (120, 110.0, 240.0, 15.0)],
)
def test_erlang_a_tends_to_erlang_c_as_patience_grows(agents, traffic, aht, threshold):
    rate = traffic / aht
    limit = erlang_c(agents, rate, aht, threshold)
    # The distance shrinks in proportion to 1 / patience (first-order in theta), with no
    # numerical floor: a 100 times longer patience brings it about 100 times closer.
    previous_gap = math.inf
    for patience in (1e5, 1e7, 1e9, 1e11, 1e13):
        model = erlang_a(agents, rate, aht, patience, threshold)
        gap = abs(model.service_level - limit.service_level)
        assert gap < previous_gap / 50
        previous_gap = gap
    assert model.wait_probability == pytest.approx(limit.wait_probability, rel=1e-8)
    assert model.service_level == pytest.approx(limit.service_level, rel=1e-8)
    assert model.asa_seconds == pytest.approx(limit.asa_seconds, rel=1e-8)
    assert model.occupancy == pytest.approx(limit.occupancy, rel=1e-8)
    assert model.abandon_probability < 1e-8


def test_published_example_with_patience_needs_no_more_agents_than_erlang_c():
    rate = Fraction(100, 1800)
    needed = minimum_agents(rate, 180, 20, 0.8, patience_seconds=180)
    assert needed <= minimum_agents(rate, 180, 20, 0.8) == 14
    assert erlang_a(needed, rate, 180, 180, 20).service_level >= 0.8
    assert erlang_a(needed - 1, rate, 180, 180, 20).service_level < 0.8


@pytest.mark.parametrize("traffic", [500.0, 5000.0])
def test_large_traffic_minimum_agents_is_tight_and_finite(traffic):
    rate, aht, patience = traffic / 180, 180.0, 120.0
    needed = minimum_agents(rate, aht, 20, 0.8, patience_seconds=patience)
    at, below = (
        erlang_a(needed, rate, aht, patience, 20),
        erlang_a(needed - 1, rate, aht, patience, 20),
    )
    assert at.service_level >= 0.8 > below.service_level
    for model in (at, below):
        for value in (model.wait_probability, model.abandon_probability, model.service_level):
            assert 0.0 <= value <= 1.0
        assert math.isfinite(model.asa_seconds) and model.asa_seconds >= 0
        assert 0.0 < model.occupancy <= 1.0


@pytest.mark.parametrize(
    ("agents", "traffic"),
    [(1, 5000.0), (5000, 1.0), (5000, 5000.0), (6000, 5000.0), (4000, 5000.0)],
)
def test_extreme_staffing_is_finite(agents, traffic):
    model = erlang_a(agents, traffic / 180, 180.0, 120.0, 20.0)
    values = (
        model.wait_probability,
        model.abandon_probability,
        model.service_level,
        model.answered_late_probability,
        model.occupancy,
    )
    assert all(0.0 <= value <= 1.0 for value in values)
    assert math.isfinite(model.asa_seconds)


def test_maximum_occupancy_raises_erlang_a_answer():
    rate = 10.0 / 180
    plain = minimum_agents(rate, 180, 20, 0.5, patience_seconds=60)
    capped = minimum_agents(rate, 180, 20, 0.5, patience_seconds=60, max_occupancy=0.6)
    assert capped > plain
    assert erlang_a(capped, rate, 180, 60, 20).occupancy <= 0.6
    assert erlang_a(capped - 1, rate, 180, 60, 20).occupancy > 0.6


@settings(max_examples=60, deadline=None)
@given(
    traffic=st.floats(min_value=0.05, max_value=400.0),
    aht=st.floats(min_value=30.0, max_value=900.0),
    patience=st.floats(min_value=5.0, max_value=3600.0),
    threshold=st.floats(min_value=0.0, max_value=120.0),
    start=st.integers(min_value=1, max_value=500),
)
def test_erlang_a_is_monotone_in_agents_and_probabilities_add_up(
    traffic, aht, patience, threshold, start
):
    rate = traffic / aht
    previous = None
    for agents in range(start, start + 4):
        model = evaluate(agents, rate, aht, threshold, patience_seconds=patience)
        for value in (model.wait_probability, model.abandon_probability, model.service_level):
            assert 0.0 <= value <= 1.0
        assert model.service_level + model.abandon_probability + (
            model.answered_late_probability
        ) == pytest.approx(1.0, abs=1e-9)
        if previous is not None:
            assert model.wait_probability <= previous.wait_probability + 1e-12
            assert model.abandon_probability <= previous.abandon_probability + 1e-12
            assert model.service_level >= previous.service_level - 1e-12
            assert model.occupancy <= previous.occupancy + 1e-12
        previous = model


def test_rejects_impossible_patience():
    with pytest.raises(ValueError, match="patience"):
        erlang_a(3, 0.01, 180, 0, 20)
    with pytest.raises(ValueError, match="agents"):
        erlang_a(0, 0.01, 180, 60, 20)
