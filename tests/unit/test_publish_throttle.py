"""PublishThrottle: at most one publish start per interval, leading edge (fake clock)."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from streams.live.throttle import PublishThrottle


def test_first_publish_may_start_at_once() -> None:
    throttle = PublishThrottle(1.0)
    assert throttle.delay(1000.0) == 0.0
    assert throttle.try_start(1000.0)
    assert throttle.last_start == 1000.0


def test_second_start_within_the_interval_is_refused_and_changes_nothing() -> None:
    throttle = PublishThrottle(1.0)
    assert throttle.try_start(10.0)
    assert not throttle.try_start(10.999)
    assert throttle.last_start == 10.0
    assert throttle.delay(10.25) == pytest.approx(0.75)
    assert throttle.try_start(11.0)  # exactly one interval after the previous start


def test_period_is_the_interval_not_interval_plus_publish_time() -> None:
    """The next start is due one interval after the previous *start*, however long that
    publish took (a timer that sleeps after its callback drifts by the callback's time)."""
    throttle = PublishThrottle(1.0)
    starts = []
    now = 0.0
    for _ in range(5):
        now += throttle.delay(now)
        assert throttle.try_start(now)
        starts.append(now)
        now += 0.3  # the publish itself: snapshot + Redis
    assert starts == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


def test_leading_edge_after_a_quiet_spell() -> None:
    throttle = PublishThrottle(1.0)
    assert throttle.try_start(5.0)
    # nothing for a while: a change 7.2 s later is published at once, not on a 1 s grid
    assert throttle.delay(12.2) == 0.0
    assert throttle.try_start(12.2)
    assert throttle.delay(12.2) == pytest.approx(1.0)


def test_a_late_wake_up_moves_the_next_start_never_two_within_an_interval() -> None:
    throttle = PublishThrottle(0.5)
    assert throttle.try_start(0.0)
    assert throttle.try_start(0.58)  # woke 80 ms late (the loop was busy with a batch)
    assert throttle.delay(0.6) == pytest.approx(0.48)  # due at 1.08, not 1.0
    assert not throttle.try_start(1.0)
    assert throttle.try_start(1.08)


def test_release_when_nothing_was_written_allows_an_immediate_start() -> None:
    """The worker releases a claimed start that had nothing to write (not ready yet): the
    next change is published at once, yet never within an interval of the last real one."""
    throttle = PublishThrottle(1.0)
    assert throttle.try_start(3.0)  # a real publish
    assert throttle.try_start(4.0)  # claimed, but nothing to publish (a rebalance started)
    throttle.release()
    assert throttle.last_start == 3.0
    assert throttle.delay(4.3) == 0.0
    assert throttle.try_start(4.3)  # the change that made it ready: published at once
    assert not throttle.try_start(5.0)


def test_release_before_any_publish() -> None:
    throttle = PublishThrottle(1.0)
    assert throttle.try_start(0.0)
    throttle.release()
    assert throttle.try_start(0.01)


@pytest.mark.parametrize("interval", [0, -1.0, math.nan])
def test_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        PublishThrottle(interval)


def test_simulated_worker_loop_keeps_the_contract_and_bounds_the_wait() -> None:
    """The worker's loop (sleep `delay`, start, publish for a while) against events at random
    times: starts are never closer than the interval, each event is in a publish that starts
    within one interval (+ the wake-up lag) of its arrival, and nothing is published twice
    within an interval even with random wake-up lags and publish durations."""
    rng = random.Random(7)
    interval = 1.0
    throttle = PublishThrottle(interval)
    events = sorted(rng.uniform(0, 120) for _ in range(2000))
    starts: list[float] = []
    now = 0.0
    while now < 121:
        wait = throttle.delay(now)
        if wait > 0:
            now += wait + rng.choice([0.0, 0.0, 0.001, 0.02])  # asyncio wakes a bit late
            continue
        if not throttle.try_start(now):  # woke a rounding error early, as asyncio may
            now += 1e-9
            continue
        starts.append(now)
        now += rng.uniform(0.005, 0.2)  # snapshot + Redis pipeline
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= interval
    assert max(gaps) <= interval + 0.02 + 1e-9
    for ts in events:
        first = next(start for start in starts if start >= ts)
        assert first - ts <= interval + 0.02 + 1e-9
