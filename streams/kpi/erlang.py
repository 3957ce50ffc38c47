"""Staffing models: Erlang C (M/M/n) and Erlang A (M/M/n+M, Palm's queue with abandonment).

Pure Python, standard library only. Inputs are an arrival rate (calls per second), an average
handle time (AHT) and, for Erlang A, a mean patience (abandonment rate theta = 1 / patience).
Offered traffic A = arrival rate * AHT, in Erlangs.

Numerical approach (no factorials anywhere, stable from 1 agent to many thousands):
- Erlang B by its textbook recursion B(k) = A B(k-1) / (k + A B(k-1)); it only ever shrinks
  towards 0 (it underflows to exactly 0 when the answer is below 1e-308, which is then correct
  to that precision) and never overflows.
- Erlang C from Erlang B: C = n B / (n - A (1 - B)).
- Erlang A: an arriving call's offered wait V (the time it would wait if it never gave up) has an
  atom at 0 and, for t > 0, the density n mu pi_n g(t) with
  g(t) = exp(-n mu t + lambda (1 - exp(-theta t)) / theta)   (Baccelli & Hebuterne; Mandelbaum &
  Zeltyn). V is independent of the call's own patience, so a call waiting v is answered with
  probability exp(-theta v). With S = n mu * integral of g over t > 0 and B = Erlang B,
  P(wait) = S B / (1 - B + S B) (computed with logarithms: S overflows under overload).
  Every other Erlang A measure is an integral of g against a positive
  weight (1, exp(-theta t), 1 - exp(-theta t), t exp(-theta t)), see `_offered_wait`.
  The closed forms of these integrals are differences of incomplete gamma functions, which
  cancel catastrophically as patience grows (the Erlang C limit), and ASA has no such closed
  form (it needs their derivative in the shape parameter); so they are integrated
  numerically instead: log g is concave, so it is integrated in log
  space relative to its peak, on panels placed at fixed drops of log g from that peak, with
  Gauss-Legendre on each panel. The tests check this against an independent truncated
  birth-death chain.

Exact arithmetic where the answer is an integer rounded up from a ratio: minimum agents for a
maximum occupancy (A / n <= max) and shrinkage (ceil(agents / (1 - shrinkage))) are computed
with `fractions.Fraction` built from the decimal text of the inputs, so 21 agents at 30 %
shrinkage is 30 (float arithmetic says 21 / 0.7 = 30.000000000000004 -> 31).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

Number = int | float | Fraction | Decimal | str

ERLANG_C = "erlang_c"
ERLANG_A = "erlang_a"
# Work grows with the traffic (the Erlang B recursion runs once per agent); far beyond any
# contact centre, and keeps a typo in the calls or AHT from hanging the caller.
MAX_TRAFFIC_ERLANGS = 1_000_000

# Panel edges sit where log g has dropped by k^2 / 4 from its peak (k = 1..16): dense near the
# peak where g is flat, wider in the tails; beyond a drop of 64 the rest is below 1e-27 of it.
_LEVELS = tuple(k * k / 4 for k in range(1, 17))
# exp(-theta t) must be nearly polynomial on a panel: at most this many patience means long.
_PATIENCE_PANEL = 4.0
_GAUSS_ORDER = 16
_EXP_LIMIT = 700.0  # math.exp overflows just above 709
# 2**53: every whole number of smaller magnitude is a float, so such a float is an int exactly.
_WHOLE_FLOATS_BELOW: Final = 9007199254740992.0
# sys.float_info.max written out: a Final float literal compiles to a constant, where
# math.isfinite is a generic call.
LARGEST_FLOAT: Final = 1.7976931348623157e308


@dataclass(frozen=True, slots=True)
class Performance:
    """How a queue performs with `agents` agents (all probabilities are per offered call).

    service_level: calls answered within the threshold / all offered calls. Under Erlang A a
        call that abandons, before or after the threshold, is never "answered within t".
    answered_late_probability: P(answered after waiting longer than the threshold).
    asa_seconds: mean wait of answered calls (`math.inf` when Erlang C has agents <= traffic,
        i.e. the queue grows without bound).
    occupancy: mean fraction of agents busy (answered traffic / agents, at most 1).
    abandon_probability: Erlang A only; None under Erlang C (callers never give up).
    """

    model: str
    agents: int
    traffic_erlangs: float
    wait_probability: float
    service_level: float
    answered_late_probability: float
    asa_seconds: float
    occupancy: float
    abandon_probability: float | None


def exact(value: Number) -> Fraction:
    """A number as an exact fraction; a float counts as the decimal it prints as (0.3 -> 3/10).

    repr() of a float is the shortest decimal that reads back as that float, i.e. what a
    person typed; that is the value they mean, not the nearest binary fraction.
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return Fraction(value)
    if isinstance(value, str):
        return Fraction(value.strip())  # raises ValueError for 'nan', 'inf', 'abc'
    raise TypeError(f"{value!r} is not a number")


def exact_ratio(value: Number) -> tuple[int, int]:
    """exact(value) as (numerator, denominator > 0), not always in lowest terms.

    The same number without a Fraction, whose construction (a gcd, type tests) and
    arithmetic cost most of a live staffing computation: a float is read from its repr as
    exact() reads it, an int is itself; anything else goes through exact().
    """
    if type(value) is float:
        if -_WHOLE_FLOATS_BELOW < value < _WHOLE_FLOATS_BELOW:
            # A whole number this small is exactly an int, and prints as its digits and ".0"
            # (window lengths, AHT settings and empty sums are): no repr to parse.
            whole_number = int(value)
            if float(whole_number) == value:
                return whole_number, 1
        elif not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        text = repr(value)
        if "e" not in text:
            # [-]digits.digits: one parse of the digits without the point.
            return int(text.replace(".", "")), 10 ** (len(text) - 1 - text.find("."))
        # [-]digits[.digits]e(+|-)digits
        mantissa, _, power = text.partition("e")
        whole, _, decimals = mantissa.partition(".")
        shift = int(power) - len(decimals)
        numerator = int(whole + decimals)
        if shift >= 0:
            return numerator * 10**shift, 1
        return numerator, 10**-shift
    if type(value) is int:
        return value, 1
    return exact(value).as_integer_ratio()


def exact_float(value: Number) -> float:
    """float(exact(value)); a finite float is itself, as the decimal it prints as reads back
    as it (what repr promises), but for -0.0, which exact() reads as 0."""
    if type(value) is float and -LARGEST_FLOAT <= value <= LARGEST_FLOAT:
        return value + 0.0  # -0.0 + 0.0 is 0.0
    numerator, denominator = exact_ratio(value)
    return quotient(numerator, denominator)


def quotient(numerator: Any, denominator: Any) -> float:
    """numerator / denominator of two ints, correctly rounded as Python divides them. Untyped
    on purpose: compiled, a quotient of typed ints converts both to doubles first, which
    rounds twice once either passes 2**53 (exact_ratio's often do)."""
    result: float = numerator / denominator
    return result


def agents_with_shrinkage(agents: int, shrinkage: Number) -> int:
    """Agents to schedule so that `agents` remain after shrinkage (breaks, training, absence).

    ceil(agents / (1 - shrinkage)) in exact arithmetic: 21 agents at 0.3 -> 30.
    """
    loss = exact(shrinkage)
    if not 0 <= loss < 1:
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage}")
    if agents < 0:
        raise ValueError(f"agents must be 0 or more, got {agents}")
    return math.ceil(Fraction(agents) / (1 - loss))


def erlang_b(agents: int, traffic: float) -> float:
    """Erlang B blocking probability of `agents` servers offered `traffic` Erlangs."""
    if agents < 0 or not traffic >= 0:
        raise ValueError(f"need agents >= 0 and traffic >= 0, got {agents}, {traffic}")
    blocking = 1.0
    for servers in range(1, agents + 1):
        blocking = traffic * blocking / (servers + traffic * blocking)
        if blocking == 0.0:  # underflowed; stays 0 for more agents, no need to loop to n
            break
    return blocking


def erlang_c_wait_probability(agents: int, traffic: float, blocking: float | None = None) -> float:
    """Erlang C: probability an arriving call waits (1 when agents <= traffic: no steady state)."""
    if agents <= traffic:
        return 1.0
    if blocking is None:
        blocking = erlang_b(agents, traffic)
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def erlang_c(
    agents: int, arrival_rate: Number, aht_seconds: Number, threshold_seconds: Number
) -> Performance:
    """Erlang C with `agents` agents: M/M/n, callers never abandon.

    - wait_probability: P(an arriving call queues) = C(n, A).
    - service_level: P(answered within `threshold_seconds`) = 1 - C exp(-(n - A) t / AHT);
      every offered call is answered, so this is also answered within t / offered.
    - asa_seconds: C * AHT / (n - A).  occupancy: A / n.
    With n <= A there is no steady state (the queue grows): P(wait) 1, service level 0,
    ASA infinite, occupancy 1.
    """
    rate, aht, threshold = _check_load(arrival_rate, aht_seconds, threshold_seconds)
    _check_agents(agents)
    traffic = float(rate * aht)
    return _erlang_c(agents, traffic, float(aht), float(threshold), erlang_b(agents, traffic))


def erlang_a(
    agents: int,
    arrival_rate: Number,
    aht_seconds: Number,
    patience_seconds: Number,
    threshold_seconds: Number,
) -> Performance:
    """Erlang A with `agents` agents: Palm's M/M/n+M queue (Garnett, Mandelbaum & Reiman 2002).

    Poisson arrivals, exponential handle times (mean `aht_seconds`), and each queued caller
    abandons at rate theta = 1 / `patience_seconds` while waiting (first come, first served).
    - wait_probability: P(an arriving call finds every agent busy and queues).
    - abandon_probability: P(the caller hangs up before an agent answers).
    - service_level: P(answered within `threshold_seconds`), over ALL offered calls: calls
      answered at once count, a call that abandons (before or after the threshold) does not.
      So service_level + abandon_probability + answered_late_probability = 1.
    - asa_seconds: mean wait of the answered calls only (abandoned calls excluded).
    - occupancy: answered traffic / agents = arrival rate * P(answered) * AHT / agents.
    """
    rate, aht, threshold = _check_load(arrival_rate, aht_seconds, threshold_seconds)
    patience = _check_patience(patience_seconds)
    _check_agents(agents)
    traffic = float(rate * aht)
    return _erlang_a(
        agents,
        float(rate),
        float(aht),
        float(patience),
        float(threshold),
        erlang_b(agents, traffic),
    )


def evaluate(
    agents: int,
    arrival_rate: Number,
    aht_seconds: Number,
    threshold_seconds: Number,
    patience_seconds: Number | None = None,
) -> Performance:
    """Erlang A when a mean patience is given, Erlang C otherwise."""
    if patience_seconds is None:
        return erlang_c(agents, arrival_rate, aht_seconds, threshold_seconds)
    return erlang_a(agents, arrival_rate, aht_seconds, patience_seconds, threshold_seconds)


def minimum_agents(
    arrival_rate: Number,
    aht_seconds: Number,
    threshold_seconds: Number,
    target: Number,
    *,
    max_occupancy: Number | None = None,
    patience_seconds: Number | None = None,
) -> int:
    """Fewest agents whose service level is at least `target` (and occupancy at most
    `max_occupancy`, if given). Erlang A when a mean patience is given, Erlang C otherwise.

    Both service level and occupancy are monotone in agents, so the answer is the larger of the
    fewest agents meeting each. Under Erlang C the occupancy bound is exact: n >= A / max.
    """
    rate, aht, threshold = _check_load(arrival_rate, aht_seconds, threshold_seconds)
    goal = exact(target)
    if not 0 < goal < 1:
        raise ValueError(f"target service level must be in (0, 1), got {target}")
    ceiling = None
    if max_occupancy is not None:
        ceiling = exact(max_occupancy)
        if not 0 < ceiling <= 1:
            raise ValueError(f"maximum occupancy must be in (0, 1], got {max_occupancy}")
    traffic = rate * aht
    if patience_seconds is None:
        agents = minimum_agents_erlang_c(float(traffic), float(aht), float(threshold), float(goal))
        if ceiling is not None:
            agents = max(agents, math.ceil(traffic / ceiling))
        return agents
    patience = _check_patience(patience_seconds)
    blocking = _BlockingTable(float(traffic))

    def performance(agents: int) -> Performance:
        return _erlang_a(
            agents, float(rate), float(aht), float(patience), float(threshold), blocking[agents]
        )

    agents = _first_true(lambda n: performance(n).service_level >= goal, 1)
    if ceiling is not None:
        limit = float(ceiling)
        # Answered traffic <= offered traffic, so ceil(A / max) agents always satisfy the bound.
        enough = max(agents, math.ceil(traffic / ceiling))
        agents = _first_true(
            lambda n: n >= enough or performance(n).occupancy <= limit, agents, enough
        )
    return agents


def _check_load(
    arrival_rate: Number, aht_seconds: Number, threshold_seconds: Number
) -> tuple[Fraction, Fraction, Fraction]:
    rate, aht, threshold = exact(arrival_rate), exact(aht_seconds), exact(threshold_seconds)
    if rate <= 0:
        raise ValueError(f"arrival rate must be above 0, got {arrival_rate}")
    if aht <= 0:
        raise ValueError(f"AHT must be above 0 seconds, got {aht_seconds}")
    if threshold < 0:
        raise ValueError(f"service level threshold must be 0 or more, got {threshold_seconds}")
    if rate * aht > MAX_TRAFFIC_ERLANGS:
        raise ValueError(
            f"traffic {float(rate * aht):g} Erlangs is above the supported "
            f"{MAX_TRAFFIC_ERLANGS:,} (check the units of calls and AHT)"
        )
    return rate, aht, threshold


def _check_patience(patience_seconds: Number) -> Fraction:
    patience = exact(patience_seconds)
    if patience <= 0:
        raise ValueError(f"mean patience must be above 0 seconds, got {patience_seconds}")
    return patience


def _check_agents(agents: int) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise ValueError(f"agents must be a whole number above 0, got {agents!r}")


def _erlang_c(
    agents: int, traffic: float, aht: float, threshold: float, blocking: float
) -> Performance:
    if agents <= traffic:
        return Performance(ERLANG_C, agents, traffic, 1.0, 0.0, 1.0, math.inf, 1.0, None)
    waiting = erlang_c_wait_probability(agents, traffic, blocking)
    late = _late_probability(agents, traffic, aht, threshold, waiting)
    return Performance(
        model=ERLANG_C,
        agents=agents,
        traffic_erlangs=traffic,
        wait_probability=waiting,
        service_level=1.0 - late,
        answered_late_probability=late,
        asa_seconds=waiting * aht / (agents - traffic),
        occupancy=traffic / agents,
        abandon_probability=None,
    )


def _late_probability(
    agents: int, traffic: float, aht: float, threshold: float, waiting: float
) -> float:
    """Erlang C: P(a call waits longer than `threshold`), for agents > traffic."""
    return waiting * math.exp(-(agents - traffic) * threshold / aht)


def minimum_agents_erlang_c(traffic: float, aht: float, threshold: float, target: float) -> int:
    """Fewest agents whose Erlang C service level (the `service_level` of `erlang_c`) is at
    least `target`."""
    # Outside these the search never ends (a negative threshold or a target of 1 is never
    # reached) or divides by zero. minimum_agents says which argument is wrong first.
    if not (traffic >= 0 and aht > 0 and threshold >= 0 and 0 < target < 1):
        raise ValueError(
            "Erlang C needs traffic of 0 or more, an AHT above 0, a threshold of 0 or more and "
            f"a target in (0, 1); got traffic {traffic}, AHT {aht} s, threshold {threshold} s, "
            f"target {target}"
        )
    # One pass of the Erlang B recursion; each candidate above the traffic is then O(1) (no
    # Performance made: live staffing runs this for every queue whose counts changed).
    blocking, agents = 1.0, 0
    while True:
        agents += 1
        blocking = traffic * blocking / (agents + traffic * blocking)
        if agents > traffic:
            waiting = erlang_c_wait_probability(agents, traffic, blocking)
            if 1.0 - _late_probability(agents, traffic, aht, threshold, waiting) >= target:
                return agents


class _BlockingTable:
    """Erlang B for 0..n agents at one traffic, extended on demand (one recursion step each)."""

    def __init__(self, traffic: float) -> None:
        self.traffic = traffic
        self.values = [1.0]

    def __getitem__(self, agents: int) -> float:
        while len(self.values) <= agents:
            if self.values[-1] == 0.0:  # underflowed: 0 for every larger team too
                return 0.0
            previous = self.traffic * self.values[-1]
            self.values.append(previous / (len(self.values) + previous))
        return self.values[agents]


def _first_true(holds: Callable[[int], bool], low: int, high: int | None = None) -> int:
    """Smallest n >= low with holds(n), for a predicate that stays true once true.

    Without `high`, doubles from `low` until it holds (it must hold eventually).
    """
    if high is None:
        high = low
        while not holds(high):
            low, high = high + 1, high * 2
    elif not holds(high):
        raise ValueError(f"no value in [{low}, {high}] satisfies the condition")
    while low < high:
        middle = (low + high) // 2
        if holds(middle):
            high = middle
        else:
            low = middle + 1
    return high


def _erlang_a(
    agents: int, rate: float, aht: float, patience: float, threshold: float, blocking: float
) -> Performance:
    service = agents / aht  # completion rate with every agent busy
    abandonment = 1.0 / patience
    traffic = rate * aht
    if blocking == 0.0:
        # So many agents that P(all busy) is below 1e-308: nobody waits.
        return Performance(ERLANG_A, agents, traffic, 0.0, 1.0, 0.0, 0.0, traffic / agents, 0.0)
    wait = _offered_wait(rate, service, abandonment, threshold)
    # P(wait) = S B / (1 - B + S B) with S = service * integral of g; S may be astronomically
    # large (overload), so compare logarithms.
    log_ratio = math.log1p(-blocking) - math.log(blocking) - math.log(service) - wait.log_mass
    waiting = math.exp(-log_ratio) if log_ratio > _EXP_LIMIT else 1.0 / (1.0 + math.exp(log_ratio))
    served = (1.0 - waiting) + waiting * wait.served
    return Performance(
        model=ERLANG_A,
        agents=agents,
        traffic_erlangs=traffic,
        wait_probability=waiting,
        service_level=(1.0 - waiting) + waiting * wait.served_within,
        answered_late_probability=waiting * wait.served_late,
        asa_seconds=waiting * wait.served_wait / served,
        occupancy=min(1.0, rate * served / service),
        abandon_probability=waiting * wait.abandoned,
    )


@dataclass(frozen=True, slots=True)
class _OfferedWait:
    """Integrals of g (see module doc) over t > 0; all but log_mass are relative to the mass."""

    log_mass: float  # log of the integral of g
    abandoned: float  # P(abandon | waits)
    served: float  # P(answered | waits)
    served_within: float  # P(answered within threshold | waits)
    served_late: float  # P(answered after the threshold | waits)
    served_wait: float  # E[wait; answered | waits]


def _offered_wait(
    rate: float, service: float, abandonment: float, threshold: float
) -> _OfferedWait:
    def log_g(t: float) -> float:
        # lambda (1 - e^{-theta t}) / theta, accurate for tiny theta t too
        return -service * t - rate * math.expm1(-abandonment * t) / abandonment

    # log g is concave; its peak is where the arrival rate, thinned by abandonment, meets the
    # service rate.
    peak = math.log(rate / service) / abandonment if rate > service else 0.0
    top = log_g(peak)
    slope = abs(service - rate * math.exp(-abandonment * peak))
    curvature = rate * abandonment * math.exp(-abandonment * peak)
    scale = 1.0 / max(slope, math.sqrt(curvature))

    def drop(t: float) -> float:
        return top - log_g(t)

    edges = {0.0, peak}
    right = _level_points(drop, peak, scale, direction=1.0)
    edges.update(right)
    if peak > 0.0:
        edges.update(_level_points(drop, peak, scale, direction=-1.0))
    end = right[-1]
    # Keep panels within a few mean patiences while exp(-theta t) still matters.
    step = _PATIENCE_PANEL / abandonment
    patience_edges = min(end, peak + 64.0 / abandonment)
    count = int(patience_edges / step)
    edges.update(step * k for k in range(1, count + 1))
    if 0.0 < threshold < end:
        edges.add(threshold)
    points = sorted(edge for edge in edges if 0.0 <= edge <= end)

    mass = abandoned = served = within = late = served_wait = 0.0
    for low, high in itertools.pairwise(points):
        if high <= low:
            continue
        half, middle = (high - low) / 2, (high + low) / 2
        early = high <= threshold
        for node, weight in _GAUSS:
            t = middle + half * node
            density = weight * half * math.exp(log_g(t) - top)
            kept = math.exp(-abandonment * t)  # P(still patient after t)
            mass += density
            abandoned -= density * math.expm1(-abandonment * t)
            answered = density * kept
            served += answered
            served_wait += answered * t
            if early:
                within += answered
            else:
                late += answered
    return _OfferedWait(
        log_mass=top + math.log(mass),
        abandoned=abandoned / mass,
        served=served / mass,
        served_within=within / mass,
        served_late=late / mass,
        served_wait=served_wait / mass,
    )


def _level_points(
    drop: Callable[[float], float], start: float, scale: float, direction: float
) -> list[float]:
    """Points on one side of the peak where `drop` reaches each of _LEVELS (clipped at t = 0).

    They only place panel edges, so a relative precision of 1e-6 is plenty.
    """
    points: list[float] = []
    inner, step = start, scale
    for level in _LEVELS:
        outer = inner + direction * step
        while drop(outer) < level:
            if direction < 0 and outer <= 0.0:
                return [*points, 0.0]
            inner, step = outer, step * 2
            outer = inner + direction * step
        if direction < 0 and outer < 0.0:
            if drop(0.0) < level:
                return [*points, 0.0]
            outer = 0.0
        for _ in range(200):
            middle = (inner + outer) / 2
            if abs(outer - inner) <= 1e-6 * abs(middle):
                break
            if drop(middle) < level:
                inner = middle
            else:
                outer = middle
        step = max(abs(outer - start) / 4, scale)
        points.append(outer)
        inner = outer
    return points


def _gauss_legendre(order: int) -> tuple[tuple[float, float], ...]:
    """Nodes and weights on [-1, 1]: roots of the Legendre polynomial by Newton's method."""

    def legendre(x: float) -> tuple[float, float]:
        previous, current = 1.0, x
        for k in range(2, order + 1):
            previous, current = current, ((2 * k - 1) * x * current - (k - 1) * previous) / k
        derivative = order * (x * current - previous) / (x * x - 1.0)
        return current, derivative

    rule = []
    for index in range(1, order + 1):
        x = math.cos(math.pi * (index - 0.25) / (order + 0.5))
        for _ in range(100):
            value, derivative = legendre(x)
            x -= value / derivative
            if abs(value / derivative) < 1e-16:
                break
        _, derivative = legendre(x)
        rule.append((x, 2.0 / ((1.0 - x * x) * derivative * derivative)))
    return tuple(rule)


_GAUSS = _gauss_legendre(_GAUSS_ORDER)
