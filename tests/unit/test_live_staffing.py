"""Live staffing per queue: required agents from the staffing window's counts, and the gap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.config import QueueSettings
from streams.kpi.erlang import erlang_c, minimum_agents
from streams.kpi.staffing import live_staffing

DEFAULTS = QueueSettings()  # 80 % within 20 s, fallback AHT 360 s
FIELDS = {
    "required_agents",
    "productive_agents",
    "gap",
    "model",
    "traffic_erlangs",
    "aht_seconds",
}


def test_published_example_from_window_counts():
    # 100 calls offered in a 30-minute window, 50 handled in 9000 s: AHT 180 s, 10 Erlangs.
    result = live_staffing(100, 1800.0, 50, 9000.0, 12, DEFAULTS)
    assert set(result) == FIELDS
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
