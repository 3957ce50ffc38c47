"""Erlang C: the published example, exact rounding, large traffic, and exact small cases."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kpi.erlang import (
    ERLANG_C,
    agents_with_shrinkage,
    erlang_b,
    erlang_c,
    erlang_c_wait_probability,
    exact,
    exact_float,
    exact_ratio,
    minimum_agents,
    minimum_agents_erlang_c,
)

# 100 calls in 30 minutes, AHT 180 s: 10 Erlangs.
EXAMPLE_RATE = Fraction(100, 30 * 60)


def test_published_example_performance_at_14_agents():
    model = erlang_c(14, EXAMPLE_RATE, 180, 20)
    assert model.model == ERLANG_C
    assert model.traffic_erlangs == 10.0
    assert model.wait_probability == pytest.approx(0.17413, abs=5e-6)
    assert model.service_level == pytest.approx(0.88835, abs=5e-6)
    assert model.asa_seconds == pytest.approx(7.836, abs=5e-4)
    assert model.occupancy == pytest.approx(0.714, abs=5e-4)
    assert model.abandon_probability is None
    assert model.answered_late_probability == pytest.approx(1 - model.service_level, abs=1e-15)


def test_published_example_minimum_agents():
    assert minimum_agents(EXAMPLE_RATE, 180, 20, 0.8) == 14
    # 13 agents miss the target (0.7956), so 14 is the fewest.
    assert erlang_c(13, EXAMPLE_RATE, 180, 20).service_level < 0.8


def test_published_example_with_maximum_occupancy_and_shrinkage():
    agents = minimum_agents(EXAMPLE_RATE, 180, 20, 0.8, max_occupancy=0.85)
    assert agents == 14
    assert agents_with_shrinkage(agents, 0.30) == 20


def test_shrinkage_rounding_is_exact():
    # The float trap the exact arithmetic avoids.
    assert math.ceil(21 / (1 - 0.3)) == 31
    assert agents_with_shrinkage(21, 0.3) == 30
    assert agents_with_shrinkage(21, "0.3") == 30
    assert agents_with_shrinkage(21, Decimal("0.30")) == 30
    assert agents_with_shrinkage(21, Fraction(3, 10)) == 30
    assert agents_with_shrinkage(22, 0.3) == 32  # 31.43 -> 32
    assert agents_with_shrinkage(5, 0) == 5
    assert agents_with_shrinkage(0, 0.5) == 0


@given(agents=st.integers(0, 20_000), percent=st.integers(0, 9999))
def test_shrinkage_matches_integer_arithmetic(agents, percent):
    # shrinkage = percent / 10000, typed as a decimal with up to four places
    shrinkage = float(f"{percent / 10000:.4f}")
    expected = -(-agents * 10000 // (10000 - percent))
    assert agents_with_shrinkage(agents, shrinkage) == expected


def test_maximum_occupancy_rounding_is_exact():
    # 21 Erlangs at most 70 % busy: exactly 30 agents (21 / 0.7 is 30.000000000000004 in floats).
    assert math.ceil(21 / 0.7) == 31
    rate = Fraction(21, 180)
    assert minimum_agents(rate, 180, 0, 0.05) == 22
    assert minimum_agents(rate, 180, 0, 0.05, max_occupancy=0.7) == 30
    assert minimum_agents(rate, 180, 0, 0.05, max_occupancy="0.70") == 30
    assert minimum_agents(rate, 180, 0, 0.05, max_occupancy=0.69) == 31


def test_rejects_impossible_input():
    with pytest.raises(ValueError, match="shrinkage"):
        agents_with_shrinkage(10, 1)
    with pytest.raises(ValueError, match="target"):
        minimum_agents(EXAMPLE_RATE, 180, 20, 1)
    with pytest.raises(ValueError, match="target"):
        minimum_agents(EXAMPLE_RATE, 180, 20, 0)
    with pytest.raises(ValueError, match="occupancy"):
        minimum_agents(EXAMPLE_RATE, 180, 20, 0.8, max_occupancy=0)
    with pytest.raises(ValueError, match="arrival rate"):
        erlang_c(3, 0, 180, 20)
    with pytest.raises(ValueError, match="AHT"):
        erlang_c(3, 0.1, -1, 20)
    with pytest.raises(ValueError, match="agents"):
        erlang_c(0, 0.1, 180, 20)
    with pytest.raises(ValueError, match="Erlangs"):
        minimum_agents(Fraction(2_000_000, 180), 180, 20, 0.8)
    with pytest.raises(ValueError):
        exact(float("nan"))
    with pytest.raises(ValueError):
        exact("inf")


def _erlang_c_exact(agents: int, traffic: Fraction) -> Fraction:
    """P(wait) from the textbook sum, in exact fractions (only for small cases)."""
    terms = [Fraction(1)]
    for k in range(1, agents + 1):
        terms.append(terms[-1] * traffic / k)
    top = terms[agents] * agents / (agents - traffic)
    return top / (sum(terms[:agents]) + top)


@pytest.mark.parametrize(
    ("agents", "traffic"),
    [(1, Fraction(1, 2)), (2, Fraction(3, 2)), (14, Fraction(10)), (40, Fraction(317, 10))],
)
def test_wait_probability_matches_exact_sum(agents, traffic):
    expected = float(_erlang_c_exact(agents, traffic))
    assert erlang_c_wait_probability(agents, float(traffic)) == pytest.approx(expected, rel=1e-13)


def test_erlang_b_matches_exact_sum():
    traffic, agents = Fraction(7), 9
    terms = [Fraction(1)]
    for k in range(1, agents + 1):
        terms.append(terms[-1] * traffic / k)
    assert erlang_b(agents, 7.0) == pytest.approx(float(terms[-1] / sum(terms)), rel=1e-14)
    assert erlang_b(0, 3.0) == 1.0


def _erlang_c_decimal(agents: int, traffic: int) -> Decimal:
    """P(wait) from the textbook sum in 40-digit decimals (exponents up to 10^999999)."""
    with localcontext() as context:
        context.prec = 40
        term, below = Decimal(1), Decimal(0)
        for k in range(1, agents + 1):
            below += term
            term = term * traffic / k
        top = term * agents / (agents - traffic)
        return top / (below + top)


@pytest.mark.parametrize(("agents", "traffic"), [(501, 500), (5001, 5000), (5013, 5000)])
def test_wait_probability_at_thousands_of_agents_matches_decimal_sum(agents, traffic):
    expected = float(_erlang_c_decimal(agents, traffic))
    assert erlang_c_wait_probability(agents, float(traffic)) == pytest.approx(expected, rel=1e-11)


@pytest.mark.parametrize("traffic", [500, 5000])
def test_large_traffic_minimum_agents_is_tight(traffic):
    rate = Fraction(traffic, 180)
    needed = minimum_agents(rate, 180, 20, 0.8)
    assert traffic < needed < traffic * 1.05
    assert erlang_c(needed, rate, 180, 20).service_level >= 0.8
    assert erlang_c(needed - 1, rate, 180, 20).service_level < 0.8
    previous = None
    for agents in range(traffic - 2, needed + 30):
        model = erlang_c(agents, rate, 180, 20)
        assert 0.0 <= model.wait_probability <= 1.0
        assert 0.0 <= model.service_level <= 1.0
        assert 0.0 < model.occupancy <= 1.0
        assert not math.isnan(model.asa_seconds)
        if previous is not None:
            assert model.wait_probability <= previous.wait_probability
            assert model.service_level >= previous.service_level
            assert model.asa_seconds <= previous.asa_seconds
        previous = model


def test_unstable_staffing_reports_a_growing_queue():
    model = erlang_c(10, EXAMPLE_RATE, 180, 20)  # 10 agents for 10 Erlangs
    assert (model.wait_probability, model.service_level, model.occupancy) == (1.0, 0.0, 1.0)
    assert model.asa_seconds == math.inf


@pytest.mark.parametrize("agents", [5000, 10**9])
def test_many_agents_little_traffic_has_no_underflow_trouble(agents):
    model = erlang_c(agents, Fraction(1, 180), 180, 20)
    assert model.wait_probability == 0.0
    assert model.service_level == 1.0
    assert model.asa_seconds == 0.0
    assert model.occupancy == pytest.approx(1 / agents)


@settings(max_examples=80, deadline=None)
@given(
    traffic=st.floats(min_value=0.01, max_value=3000.0),
    aht=st.floats(min_value=10.0, max_value=1800.0),
    threshold=st.floats(min_value=0.0, max_value=300.0),
    extra=st.integers(min_value=1, max_value=200),
)
def test_measures_are_probabilities_and_monotone(traffic, aht, threshold, extra):
    rate = traffic / aht
    first = math.floor(traffic) + extra
    models = [erlang_c(agents, rate, aht, threshold) for agents in range(first, first + 3)]
    for model in models:
        for value in (model.wait_probability, model.service_level, model.occupancy):
            assert 0.0 <= value <= 1.0
        assert model.asa_seconds >= 0.0
    for before, after in itertools.pairwise(models):
        assert after.wait_probability <= before.wait_probability
        assert after.service_level >= before.service_level
        assert after.asa_seconds <= before.asa_seconds


@settings(max_examples=60, deadline=None)
@given(
    traffic=st.floats(min_value=0.01, max_value=2000.0),
    target=st.floats(min_value=0.01, max_value=0.99),
    threshold=st.floats(min_value=0.0, max_value=120.0),
)
def test_minimum_agents_is_the_fewest_meeting_the_target(traffic, target, threshold):
    rate = traffic / 300
    needed = minimum_agents(rate, 300, threshold, target)
    assert erlang_c(needed, rate, 300, threshold).service_level >= target
    if needed - 1 >= 1:
        assert erlang_c(needed - 1, rate, 300, threshold).service_level < target


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.fractions(),
    )
)
def test_exact_ratio_is_the_number_exact_reads(value):
    numerator, denominator = exact_ratio(value)
    assert denominator > 0
    assert Fraction(numerator, denominator) == exact(value)


def test_exact_ratio_reads_a_float_as_the_decimal_it_prints_as():
    assert Fraction(*exact_ratio(0.1)) == Fraction(1, 10) != Fraction(0.1)
    assert Fraction(*exact_ratio(1.5e-07)) == Fraction(15, 10**8)
    assert exact_ratio(1e22) == (10**22, 1)
    assert Fraction(*exact_ratio(-0.0)) == 0
    with pytest.raises(ValueError):
        exact_ratio(float("inf"))


@pytest.mark.parametrize(
    "value",
    [
        1800.0,  # whole: read without its repr
        -0.0,
        2.0**53 - 1,
        -(2.0**53) + 1,
        2.0**53,  # from here on repr rounds: 2**60 prints as 1.152921504606847e+18
        2.0**60,
        123.456,  # digits.digits
        -7.25,
        0.0001,
        9.999999999999999e-05,  # exponent forms
        5e-324,
        1.7976931348623157e308,
    ],
)
def test_exact_ratio_of_whole_and_fractional_floats_is_their_printed_decimal(value):
    assert Fraction(*exact_ratio(value)) == Fraction(repr(value)) == exact(value)


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([-0.0, 5e-324, -5e-324, 1.7976931348623157e308, 0.1, 0.8, 20.0]),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.fractions(),
    )
)
def test_exact_float_is_the_float_of_the_number_exact_reads(value):
    assert repr(exact_float(value)) == repr(float(exact(value)))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), True])
def test_exact_float_refuses_what_exact_refuses(value):
    with pytest.raises((ValueError, TypeError)):
        exact(value)
    with pytest.raises((ValueError, TypeError)):
        exact_float(value)


def _fewest_meeting_the_target(traffic, aht, threshold, target):
    """The answer by definition: erlang_c's service level at 1, 2, ... agents."""
    rate = exact(traffic) / exact(aht)  # so that erlang_c's traffic is `traffic` again
    agents = 1
    while erlang_c(agents, rate, aht, threshold).service_level < target:
        agents += 1
    return agents


@settings(max_examples=150, deadline=None)
@given(
    traffic=st.floats(min_value=0.001, max_value=300.0),
    aht=st.floats(min_value=0.5, max_value=3600.0),
    threshold=st.floats(min_value=0.0, max_value=600.0),
    target=st.floats(min_value=0.01, max_value=0.999),
)
def test_minimum_agents_erlang_c_is_the_first_erlang_c_meeting_the_target(
    traffic, aht, threshold, target
):
    expected = _fewest_meeting_the_target(traffic, aht, threshold, target)
    assert minimum_agents_erlang_c(traffic, aht, threshold, target) == expected
