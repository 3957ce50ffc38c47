"""Random durations and arrival times, in whole milliseconds (the simulator's clock unit)."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable

from streams.simulator.scenario import Distribution, QueueSpec, Scenario

Sampler = Callable[[], int]


def sampler(spec: Distribution, rng: random.Random) -> Sampler:
    """A function returning one duration in ms drawn from `spec`."""
    chance = spec.probability
    mean = spec.mean
    if spec.kind == "fixed" or mean == 0:
        value = round(mean * 1000)
        draw: Sampler = lambda: value  # noqa: E731 - tiny closures keep the hot path flat
    elif spec.kind == "exponential":
        rate = 1.0 / (mean * 1000)
        expovariate = rng.expovariate
        draw = lambda: round(expovariate(rate))  # noqa: E731
    elif spec.kind == "lognormal":
        # Parameters of the underlying normal that give this mean and standard deviation.
        sigma = math.sqrt(math.log1p((spec.sd / mean) ** 2))
        mu = math.log(mean * 1000) - sigma * sigma / 2
        lognormvariate = rng.lognormvariate
        draw = lambda: round(lognormvariate(mu, sigma))  # noqa: E731
    else:  # gamma
        shape = (mean / spec.sd) ** 2
        scale = spec.sd**2 / mean * 1000
        gammavariate = rng.gammavariate
        draw = lambda: round(gammavariate(shape, scale))  # noqa: E731
    if chance >= 1:
        return draw
    if chance <= 0:
        return lambda: 0
    uniform = rng.random
    return lambda: draw() if uniform() < chance else 0


class ArrivalProfile:
    """A queue's Poisson arrivals with a piecewise-constant rate over the scenario day (the
    interval volumes times any surge factors); the day repeats every `day_ms`."""

    def __init__(self, scenario: Scenario, queue: QueueSpec, start_ms: int) -> None:
        interval_ms = scenario.interval_minutes * 60_000
        self.day_ms = scenario.day_seconds * 1000
        self.start_ms = start_ms
        opens = scenario.opens_minute
        surges = [s for s in scenario.surges if s.queue is None or s.queue == queue.name]
        cuts = {index * interval_ms for index in range(scenario.intervals + 1)}
        for surge in surges:
            cuts.add((surge.from_minute - opens) * 60_000)
            cuts.add((surge.to_minute - opens) * 60_000)
        points = sorted(cuts)
        self.starts: list[int] = points[:-1]
        self.ends: list[int] = points[1:]
        self.rates: list[float] = []  # calls per ms
        for begin in self.starts:
            rate = queue.volume[begin // interval_ms] / interval_ms
            for surge in surges:
                if (
                    (surge.from_minute - opens) * 60_000
                    <= begin
                    < (surge.to_minute - opens) * 60_000
                ):
                    rate *= surge.factor
            self.rates.append(rate)
        self.never = not any(self.rates)

    def next_after(self, now_ms: int, expovariate: Callable[[float], float]) -> int | None:
        """The next arrival time after `now_ms`, or None if the profile has no calls at all.
        A draw that crosses a rate change restarts there (memorylessness makes this exact)."""
        if self.never:
            return None
        moment = float(now_ms)
        while True:
            cycle_start = (
                self.start_ms + ((int(moment) - self.start_ms) // self.day_ms) * self.day_ms
            )
            offset = moment - cycle_start
            index = bisect.bisect_right(self.starts, offset) - 1
            boundary = cycle_start + self.ends[index]
            rate = self.rates[index]
            if rate > 0:
                candidate = moment + expovariate(rate)
                if candidate < boundary:
                    return max(round(candidate), now_ms)
            moment = float(boundary)
