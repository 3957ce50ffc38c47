"""Live staffing per queue: required agents from the staffing window's counts, and the gap."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.config import QueueSettings
from streams.kpi.erlang import MAX_TRAFFIC_ERLANGS, erlang_c, exact, minimum_agents
from streams.kpi.staffing import live_staffing

DEFAULTS = QueueSettings()  # 80 % within 20 s, fallback AHT 360 s
FIELDS = [  # in published order
    "required_agents",
    "productive_agents",
    "gap",
    "model",
    "traffic_erlangs",
    "aht_seconds",
]


def test_published_example_from_window_counts():
    # 100 calls offered in a 30-minute window, 50 handled in 9000 s: AHT 180 s, 10 Erlangs.
    result = live_staffing(100, 1800.0, 50, 9000.0, 12, DEFAULTS)
    assert set(result) == set(FIELDS)
    assert result == {
        "required_agents": 14,
        "productive_agents": 12,
        "gap": -2,
        "model": "erlang_c",
        "traffic_erlangs": 10.0,
        "aht_seconds": 180.0,
    }


def test_surplus_is_a_positive_gap():
    result = live_staffing(100, 1800.0, 50, 9000.0, 17, DEFAULTS)
    assert result["gap"] == 3


def test_no_calls_offered_needs_no_agents():
    result = live_staffing(0, 1800.0, 0, 0.0, 4, DEFAULTS)
    assert result["required_agents"] == 0
    assert result["gap"] == 4
    assert result["traffic_erlangs"] == 0.0
    assert result["aht_seconds"] == 360.0


def test_aht_falls_back_to_setting_while_nothing_is_handled():
    queue = QueueSettings(aht_seconds=180.0)
    result = live_staffing(100, 1800.0, 0, 0.0, 0, queue)
    assert result["aht_seconds"] == 180.0
    assert result["traffic_erlangs"] == 10.0
    assert result["required_agents"] == 14
    assert result["gap"] == -14


def test_uses_the_queues_own_threshold_and_target():
    vip = QueueSettings(service_level_threshold_seconds=10.0, service_level_target=0.90)
    result = live_staffing(100, 1800.0, 50, 9000.0, 0, vip)
    rate = 100 / 1800
    expected = minimum_agents(rate, 180, 10, 0.9)
    assert result["required_agents"] == expected > 14
    assert erlang_c(expected, rate, 180, 10).service_level >= 0.9
    assert erlang_c(expected - 1, rate, 180, 10).service_level < 0.9


def test_target_of_one_cannot_be_met():
    perfect = QueueSettings(service_level_target=1.0)
    result = live_staffing(10, 1800.0, 5, 900.0, 3, perfect)
    assert result["required_agents"] is None
    assert result["gap"] is None
    assert result["traffic_erlangs"] == pytest.approx(10 / 1800 * 180)


def test_each_staffing_object_is_new_and_in_published_order():
    short = live_staffing(100, 1800.0, 50, 9000.0, 12, DEFAULTS)
    short["gap"] = "changed by its reader"
    perfect = live_staffing(10, 1800.0, 5, 900.0, 3, QueueSettings(service_level_target=1.0))
    assert list(perfect) == FIELDS
    assert (perfect["gap"], perfect["model"]) == (None, "erlang_c")
    assert live_staffing(100, 1800.0, 50, 9000.0, 12, DEFAULTS)["gap"] == -2


def test_absurd_traffic_gives_no_answer_instead_of_hanging():
    # 10 million calls in 30 minutes at a 6-minute AHT: 2 million Erlangs.
    result = live_staffing(10_000_000, 1800.0, 0, 0.0, 5, DEFAULTS)
    assert result["traffic_erlangs"] == 2_000_000.0
    assert (result["required_agents"], result["gap"]) == (None, None)


def test_running_sum_rounding_residue_is_harmless():
    # Float running totals: after every wrap-up has left the window the sum may be -5.7e-14.
    result = live_staffing(
        100, 1800.0, 0, -5.684341886080802e-14, 14, QueueSettings(aht_seconds=180)
    )
    assert (result["aht_seconds"], result["required_agents"], result["gap"]) == (180.0, 14, 0)
    result = live_staffing(10, 1800.0, 1, -1e-13, 0, DEFAULTS)
    assert (result["aht_seconds"], result["required_agents"]) == (0.0, 1)


def test_zero_measured_handle_time_still_needs_one_agent():
    result = live_staffing(10, 1800.0, 5, 0.0, 0, DEFAULTS)
    assert result["aht_seconds"] == 0.0
    assert result["required_agents"] == 1
    assert result["gap"] == -1


@pytest.mark.parametrize(
    "arguments",
    [
        (-1, 1800.0, 0, 0.0, 0),
        (1, 0.0, 0, 0.0, 0),
        (1, float("inf"), 0, 0.0, 0),
        (1, 1800.0, 1, float("nan"), 0),
        (1, 1800.0, 0, 0.0, -1),
    ],
)
def test_rejects_impossible_counts(arguments):
    with pytest.raises(ValueError):
        live_staffing(*arguments, DEFAULTS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"service_level_threshold_seconds": -1.0}, "Erlang C needs"),
        ({"service_level_target": 0.0}, "Erlang C needs"),
        ({"service_level_threshold_seconds": float("nan")}, "not a finite number"),
    ],
)
def test_rejects_settings_the_configuration_cannot_hold(changes, message):
    # Built directly, past config validation: the search for required agents would never end.
    queue = dataclasses.replace(DEFAULTS, **changes)
    with pytest.raises(ValueError, match=message):
        live_staffing(100, 1800.0, 50, 9000.0, 0, queue)


@settings(max_examples=60, deadline=None)
@given(
    offered=st.integers(1, 20_000),
    handled=st.integers(0, 20_000),
    mean_handle=st.floats(min_value=1.0, max_value=1200.0),
    productive=st.integers(0, 5000),
)
def test_required_agents_meet_the_target_and_gap_is_the_difference(
    offered, handled, mean_handle, productive
):
    result = live_staffing(offered, 1800.0, handled, handled * mean_handle, productive, DEFAULTS)
    required = result["required_agents"]
    rate, aht = offered / 1800, result["aht_seconds"]
    assert result["gap"] == productive - required
    assert result["traffic_erlangs"] == pytest.approx(rate * aht)
    assert erlang_c(required, rate, aht, 20).service_level >= 0.8 - 1e-12
    if required > 1:
        assert erlang_c(required - 1, rate, aht, 20).service_level < 0.8 + 1e-12


def _live_staffing_in_fractions(
    offered, window_seconds, handled, handle_seconds_sum, productive_agents, settings
):
    """live_staffing as it was written with Fractions: the integer arithmetic must give the
    same object, to the last bit of every float."""
    measured = exact(max(handle_seconds_sum, 0.0)) / handled if handled else None
    aht = measured if measured is not None else exact(settings.aht_seconds)
    traffic = Fraction(offered) / exact(window_seconds) * aht
    if offered == 0:
        required = 0
    elif settings.service_level_target >= 1 or traffic > MAX_TRAFFIC_ERLANGS:
        required = None
    elif float(aht) == 0.0:  # 0, or too small for a float: no call waits
        required = 1
    else:
        required = minimum_agents(
            Fraction(offered) / exact(window_seconds),
            aht,
            settings.service_level_threshold_seconds,
            settings.service_level_target,
        )
    return {
        "required_agents": required,
        "productive_agents": productive_agents,
        "gap": None if required is None else productive_agents - required,
        "model": "erlang_c",
        "traffic_erlangs": float(traffic),
        "aht_seconds": float(aht),
    }


handle_sums = st.one_of(
    st.floats(min_value=-1e-9, max_value=1e7, allow_nan=False),
    st.integers(0, 10**7),
    # a few decimals, as running totals of event durations have
    st.decimals(min_value=0, max_value=10**6, places=6).map(float),
)


@example(  # an AHT (5e-324 s over 3 calls) that a float makes 0: it refused to compute
    offered=1,
    window_seconds=300,
    handled=3,
    handle_seconds_sum=5e-324,
    productive=0,
    aht_setting=1.0,
    threshold=0.0,
    target=0.5,
)
@settings(max_examples=400, deadline=None)
@given(
    offered=st.integers(0, 5000),
    window_seconds=st.sampled_from([300, 1800, 1800.0, 3600, 0.5, 86400]),
    handled=st.integers(0, 5000),
    handle_seconds_sum=handle_sums,
    productive=st.integers(0, 500),
    aht_setting=st.floats(min_value=0.001, max_value=7200.0),
    threshold=st.one_of(st.sampled_from([0.0, 20.0, 15.5]), st.floats(0.0, 600.0)),
    target=st.one_of(st.sampled_from([0.8, 0.95, 1.0]), st.floats(0.01, 1.0)),
)
def test_integer_arithmetic_gives_what_fractions_gave(
    offered, window_seconds, handled, handle_seconds_sum, productive, aht_setting, threshold, target
):
    queue = QueueSettings(
        service_level_threshold_seconds=threshold,
        service_level_target=target,
        aht_seconds=aht_setting,
    )
    arguments = (offered, window_seconds, handled, handle_seconds_sum, productive, queue)
    assert repr(live_staffing(*arguments)) == repr(_live_staffing_in_fractions(*arguments))


def test_traffic_is_the_decimal_sum_not_its_binary_value():
    # 8163.02 s is not a binary fraction: its nearest double gives a traffic one unit in the
    # last place above the decimal's.
    result = live_staffing(200, 1800, 197, 8163.02, 0, DEFAULTS)
    assert result["traffic_erlangs"] == 4.604072194021432
    assert float(Fraction(8163.02) / 197 * 200 / 1800) == 4.604072194021433
