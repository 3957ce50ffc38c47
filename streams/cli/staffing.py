"""`ccpulse staffing`: agents needed for a service level target (Erlang C, or Erlang A with
`--patience-seconds`), or how a given number of agents performs (`--agents`)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import orjson

from streams.errors import UserError
from streams.kpi.erlang import (
    ERLANG_A,
    MAX_TRAFFIC_ERLANGS,
    Performance,
    agents_with_shrinkage,
    evaluate,
    minimum_agents,
)

_TABLE_SPREAD = 3  # rows shown either side of the answer


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "staffing",
        help="agents needed for a service level target (Erlang C / Erlang A)",
        description="Fewest agents meeting a service level target for a forecast interval, "
        "by Erlang C, or by Erlang A (callers abandon) with --patience-seconds. With --agents, "
        "how that many agents would perform instead. Service level = calls answered within "
        "the threshold / calls offered.",
    )
    parser.add_argument(
        "--calls", type=_number, required=True, metavar="N", help="calls offered per interval"
    )
    parser.add_argument(
        "--interval-minutes",
        type=_number,
        default=Fraction(30),
        metavar="M",
        help="interval length (default 30)",
    )
    parser.add_argument(
        "--aht-seconds",
        type=_number,
        required=True,
        metavar="S",
        help="average handle time, seconds",
    )
    parser.add_argument(
        "--threshold-seconds",
        type=_number,
        default=Fraction(20),
        metavar="T",
        help="service level threshold, seconds (default 20)",
    )
    parser.add_argument(
        "--target",
        type=_number,
        default=Fraction(8, 10),
        metavar="X",
        help="service level target as a fraction (default 0.8)",
    )
    parser.add_argument(
        "--max-occupancy", type=_number, metavar="O", help="e.g. 0.85: agents busy at most"
    )
    parser.add_argument(
        "--shrinkage",
        type=_number,
        metavar="R",
        help="e.g. 0.3: share of scheduled agents not on the phones",
    )
    parser.add_argument(
        "--patience-seconds",
        type=_number,
        metavar="P",
        help="mean caller patience: use Erlang A (callers abandon) instead of Erlang C",
    )
    parser.add_argument(
        "--agents",
        type=int,
        metavar="K",
        help="evaluate this many agents instead of solving for the fewest",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _number(text: str) -> Fraction:
    """Exact value of the decimal the user typed (so 0.3 shrinkage is exactly 3/10)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return Fraction(value)


def _validate(args: argparse.Namespace) -> None:
    if args.calls <= 0:
        raise UserError(
            f"--calls must be above 0 (calls offered per interval), got {_show(args.calls)}"
        )
    if args.interval_minutes <= 0:
        raise UserError(f"--interval-minutes must be above 0, got {_show(args.interval_minutes)}")
    if args.aht_seconds <= 0:
        raise UserError(f"--aht-seconds must be above 0, got {_show(args.aht_seconds)}")
    if args.threshold_seconds < 0:
        raise UserError(
            f"--threshold-seconds must be 0 or more, got {_show(args.threshold_seconds)}"
        )
    if not 0 < args.target < 1:
        raise UserError(
            f"--target must be a fraction between 0 and 1 exclusive, e.g. 0.8 for 80 %, "
            f"got {_show(args.target)}"
        )
    if args.max_occupancy is not None and not 0 < args.max_occupancy <= 1:
        raise UserError(
            f"--max-occupancy must be a fraction above 0 and at most 1, e.g. 0.85, "
            f"got {_show(args.max_occupancy)}"
        )
    if args.shrinkage is not None and not 0 <= args.shrinkage < 1:
        raise UserError(
            f"--shrinkage must be a fraction from 0 to below 1, e.g. 0.3 for 30 %, "
            f"got {_show(args.shrinkage)}"
        )
    if args.patience_seconds is not None and args.patience_seconds <= 0:
        raise UserError(f"--patience-seconds must be above 0, got {_show(args.patience_seconds)}")
    if args.agents is not None and args.agents < 1:
        raise UserError(f"--agents must be 1 or more, got {args.agents}")
    traffic = args.calls / (args.interval_minutes * 60) * args.aht_seconds
    if traffic > MAX_TRAFFIC_ERLANGS:
        raise UserError(
            f"--calls, --interval-minutes and --aht-seconds give {float(traffic):g} Erlangs, "
            f"above the supported {MAX_TRAFFIC_ERLANGS:,}; check their units"
        )


def run(args: argparse.Namespace) -> int:
    _validate(args)
    rate = args.calls / (args.interval_minutes * 60)
    shrinkage = args.shrinkage if args.shrinkage is not None else Fraction(0)

    def performance(agents: int) -> Performance:
        return evaluate(
            agents, rate, args.aht_seconds, args.threshold_seconds, args.patience_seconds
        )

    if args.agents is not None:
        agents = args.agents
    else:
        agents = minimum_agents(
            rate,
            args.aht_seconds,
            args.threshold_seconds,
            args.target,
            max_occupancy=args.max_occupancy,
            patience_seconds=args.patience_seconds,
        )
    answer = performance(agents)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(_as_json(answer, shrinkage)) + b"\n")
        sys.stdout.flush()
        return 0
    _print_table(args, answer, shrinkage, performance)
    return 0


def _as_json(model: Performance, shrinkage: Fraction) -> dict[str, Any]:
    return {
        "model": model.model,
        "traffic_erlangs": model.traffic_erlangs,
        "agents": model.agents,
        "agents_with_shrinkage": agents_with_shrinkage(model.agents, shrinkage),
        "wait_probability": model.wait_probability,
        "service_level": model.service_level,
        # JSON has no infinity: null means the queue grows without bound (agents <= traffic).
        "asa_seconds": model.asa_seconds if math.isfinite(model.asa_seconds) else None,
        "occupancy": model.occupancy,
        "abandon_probability": model.abandon_probability,
    }


def _print_table(
    args: argparse.Namespace,
    answer: Performance,
    shrinkage: Fraction,
    performance: Callable[[int], Performance],
) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # Piped or redirected output keeps full rows instead of rich's 80-column default.
    width = None if sys.stdout.isatty() else 100
    console = Console(file=sys.stdout, highlight=False, width=width)
    erlang_a = answer.model == ERLANG_A
    model = f"Erlang A (mean patience {_show(args.patience_seconds)} s)" if erlang_a else "Erlang C"
    console.print(
        f"{model}: {_show(args.calls)} calls in {_show(args.interval_minutes)} min, "
        f"AHT {_show(args.aht_seconds)} s -> {answer.traffic_erlangs:.2f} Erlangs"
    )
    goal = f"target {_percent(args.target)} answered within {_show(args.threshold_seconds)} s"
    if args.max_occupancy is not None:
        goal += f", occupancy at most {_percent(args.max_occupancy)}"
    if args.shrinkage is not None:
        goal += f", shrinkage {_percent(shrinkage)}"
    console.print(goal[0].upper() + goal[1:])
    scheduled = agents_with_shrinkage(answer.agents, shrinkage)
    if args.agents is None:
        console.print(
            f"Answer: {answer.agents} agents on the phones"
            + (f", {scheduled} scheduled" if args.shrinkage is not None else "")
        )
    else:
        met = "meet" if answer.service_level >= args.target else "miss"
        verdict = f"{answer.agents} agents {met} the service level target"
        if args.max_occupancy is not None and answer.occupancy > args.max_occupancy:
            verdict += f" and are busier than {_percent(args.max_occupancy)}"
        console.print(verdict)

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Agents", justify="right")
    if args.shrinkage is not None:
        table.add_column("Scheduled", justify="right")
    for title in ("Service level", "ASA", "Occupancy", "P(wait)"):
        table.add_column(title, justify="right")
    if erlang_a:
        table.add_column("Abandoned", justify="right")
    first = max(1, answer.agents - _TABLE_SPREAD)
    for agents in range(first, answer.agents + _TABLE_SPREAD + 1):
        row_model = answer if agents == answer.agents else performance(agents)
        # An arrow, not just bold, so the answer row also shows when piped to a file.
        cells = [f"→ {agents}" if agents == answer.agents else f"{agents}"]
        if args.shrinkage is not None:
            cells.append(f"{agents_with_shrinkage(agents, shrinkage)}")
        cells += [
            _percent(row_model.service_level, 1),
            f"{row_model.asa_seconds:.1f} s" if math.isfinite(row_model.asa_seconds) else "∞",
            _percent(row_model.occupancy, 1),
            _percent(row_model.wait_probability, 1),
        ]
        if erlang_a:
            cells.append(_percent(row_model.abandon_probability, 1))
        table.add_row(*cells, style="bold" if agents == answer.agents else None)
    console.print(table)
    if not erlang_a and first <= answer.traffic_erlangs:
        console.print("∞: with agents <= traffic the queue grows without bound (Erlang C)")


def _show(value: Fraction) -> str:
    """A user's number as they would write it: 30, 0.85, 12.5."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):g}"


def _percent(value: Fraction | float, decimals: int = 0) -> str:
    return f"{float(value) * 100:.{decimals}f} %"
