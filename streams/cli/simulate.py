"""`ccpulse simulate`: a simulated contact centre's events, to a JSONL file, stdout or Kafka."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import orjson

from streams.cli.options import parse_time
from streams.config import Settings, load_settings
from streams.errors import UserError
from streams.simulator.badlines import BadLines
from streams.simulator.ledger import Ledger
from streams.simulator.model import Simulation
from streams.simulator.output import Counts, Pacer, send_to_kafka, write_lines
from streams.simulator.scenario import Scenario, load_scenario
from streams.simulator.timestamps import compressed_stamp, epoch_stamp, iso_stamp
from streams.simulator.truth import ground_truth

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "config" / "scenarios" / "normal_day.toml"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a contact centre and emit its events",
        description="Run a discrete-event simulation of a contact centre (scenario file: queues, "
        "intraday volumes, agents, shifts, breaks) and write its events in time order: JSONL to "
        "a file or stdout, or to Kafka. Same --seed and --start, same events.",
        epilog="Time stamps: with --to kafka and --speed above 1, event times follow the wall "
        "clock (compressed: simulated time t is stamped start + (t - start) / speed) so that "
        "the live worker does not reject them as 'future'; durations carried in fields "
        "(wait, talk, hold, after-call work) stay in simulated seconds. Ratios (service "
        "level, ASA, abandon rate, AHT, occupancy) then look like a real centre's, while "
        "counts per window are `speed` times higher. Override with --timestamps.",
    )
    parser.add_argument(
        "--scenario", default=str(DEFAULT_SCENARIO), help="scenario TOML (config/scenarios/)"
    )
    parser.add_argument("--config", help="ccpulse config (default: config/ccpulse.toml)")
    parser.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    parser.add_argument(
        "--start",
        help="simulated start, ISO-8601 with offset, or 'now' (default: the scenario's date "
        "and opening time; 'now' with --to kafka or --speed)",
    )
    parser.add_argument(
        "--duration",
        help="simulated span, e.g. 8h, 90m, 1d2h (default: the scenario's opening hours; "
        "with --speed: until interrupted). Longer than a day: the day repeats.",
    )
    parser.add_argument(
        "--speed",
        type=float,
        help="pace against the wall clock: 1 = real time, 60 = a minute per second "
        "(default: as fast as possible)",
    )
    parser.add_argument("--to", choices=("file", "kafka"), default="file", help="sink")
    parser.add_argument("--out", default="-", help="JSONL file for --to file (default: stdout)")
    parser.add_argument(
        "--ts-format", choices=("iso", "epoch"), default="iso", help="how `ts` is written"
    )
    parser.add_argument(
        "--timestamps",
        choices=("simulated", "compressed"),
        help="see below (default: compressed for --to kafka with --speed above 1)",
    )
    parser.add_argument(
        "--bad-lines",
        type=float,
        default=0.0,
        metavar="RATE",
        help="put a malformed line before this fraction of events (dead-letter demos)",
    )
    parser.add_argument(
        "--truth-at",
        metavar="ISO",
        help="also compute the ground-truth snapshot at this time (from the simulation's "
        "own records), best at a multiple of bucket_seconds",
    )
    parser.add_argument("--truth-out", metavar="FILE", help="where --truth-at writes its JSON")
    parser.set_defaults(func=run)


def parse_duration(text: str) -> float:
    """`8h`, `90m`, `1h30m`, `2d`, `45s` -> seconds."""
    match = _DURATION.match(text.strip()) if text else None
    if not match or not any(match.groups()):
        raise UserError(f"--duration {text!r} is not like '8h', '90m', '1h30m' or '2d'")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = days * 86400 + hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise UserError(f"--duration {text!r} must be above zero")
    return float(total)


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    settings = load_settings(args.config)
    _check_args(args)
    paced = args.speed is not None
    if args.start is not None:
        start = parse_time(args.start, "--start")
    elif args.to == "kafka" or paced:
        start = round(time.time(), 3)
    else:
        start = scenario.default_start()
    if args.duration is not None:
        end: float | None = start + parse_duration(args.duration)
    else:
        end = None if paced else start + scenario.day_seconds
    timestamps = args.timestamps or (
        "compressed" if args.to == "kafka" and paced and args.speed != 1 else "simulated"
    )
    truth_at = _truth_time(args, settings, start, end, timestamps)

    ledger = Ledger() if truth_at is not None else None
    stamp = iso_stamp() if args.ts_format == "iso" else epoch_stamp()
    start_ms = round(start * 1000)
    if timestamps == "compressed" and paced:
        stamp = compressed_stamp(start_ms, args.speed, stamp)
    seed = scenario.seed if args.seed is None else args.seed
    simulation = Simulation(scenario, start, seed=seed, ledger=ledger, stamp=stamp)
    bad = BadLines(args.bad_lines, seed) if args.bad_lines > 0 else None
    pacer = Pacer(start_ms, args.speed)
    began = time.perf_counter()
    items = simulation.events(end)
    if args.to == "kafka":
        counts = asyncio.run(_to_kafka(items, settings, pacer, bad, ledger))
        where = "kafka"
    else:
        try:
            with _open_out(args.out) as handle:
                counts = write_lines(items, handle, pacer, bad, ledger)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, like other command-line tools.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        where = "stdout" if args.out == "-" else args.out
    elapsed = time.perf_counter() - began
    if truth_at is not None and ledger is not None:
        _write_truth(ground_truth(ledger, settings, truth_at), args.truth_out)
    _summary(scenario, simulation, counts, start, where, elapsed)
    return 0


def _check_args(args: argparse.Namespace) -> None:
    if args.speed is not None and not (math.isfinite(args.speed) and args.speed > 0):
        raise UserError(f"--speed {args.speed} must be a number above 0 (1 = real time)")
    if not 0 <= args.bad_lines < 1:
        raise UserError(f"--bad-lines {args.bad_lines} must be a fraction in [0, 1), e.g. 0.01")
    if (args.truth_at is None) != (args.truth_out is None):
        raise UserError("--truth-at and --truth-out go together (time and output file)")
    if args.timestamps == "compressed" and args.speed is None:
        raise UserError("--timestamps compressed needs --speed (it divides time by the speed)")
    if args.to == "kafka" and args.out != "-":
        raise UserError("--out is for --to file; --to kafka sends to the topics in the config")


def _truth_time(
    args: argparse.Namespace, settings: Settings, start: float, end: float | None, stamps: str
) -> float | None:
    if args.truth_at is None:
        return None
    if stamps == "compressed" and args.speed is not None:
        raise UserError(
            "--truth-at needs simulated time stamps; add --timestamps simulated or drop --speed"
        )
    if end is None:
        raise UserError("--truth-at needs a finite run: add --duration")
    at = parse_time(args.truth_at, "--truth-at")
    if not start <= at <= end:
        raise UserError(
            f"--truth-at {args.truth_at} is outside the simulated span {_iso(start)} .. {_iso(end)}"
        )
    if at % settings.bucket_seconds:
        print(
            f"ccpulse simulate: note: --truth-at is not a multiple of bucket_seconds="
            f"{settings.bucket_seconds}; the engine's snapshot is exact only there",
            file=sys.stderr,
        )
    return at


async def _to_kafka(items, settings: Settings, pacer: Pacer, bad, ledger) -> Counts:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from streams.live.environment import kafka_from_env

    connection = kafka_from_env()
    producer = AIOKafkaProducer(
        bootstrap_servers=connection.servers,
        linger_ms=20,
        request_timeout_ms=30_000,
        **connection.aiokafka_kwargs(),
    )
    try:
        await producer.start()
    except KafkaError as error:
        await producer.stop()
        raise UserError(
            f"cannot reach Kafka at {connection.redacted()} ({error}); start it "
            "(`ccpulse services start`) or set CCPULSE_KAFKA_BOOTSTRAP"
        ) from None
    # SIGTERM (how `./dev run` stops it) or Ctrl-C: stop sending, flush what was sent.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        return await send_to_kafka(items, producer, settings.topics, pacer, bad, ledger, stop)
    except KafkaError as error:
        raise UserError(f"Kafka at {connection.redacted()} failed: {error}") from None
    finally:
        await producer.stop()


@contextlib.contextmanager
def _open_out(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdout.buffer
        return
    try:
        handle = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed below
    except OSError as error:
        raise UserError(f"cannot write event file {path}: {error.strerror}") from None
    with handle:
        yield handle


def _write_truth(snapshot: dict, path: str) -> None:
    data = orjson.dumps(snapshot, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise UserError(f"cannot write --truth-out {path}: {error.strerror}") from None


def _summary(
    scenario: Scenario,
    simulation: Simulation,
    counts: Counts,
    start: float,
    where: str,
    elapsed: float,
) -> None:
    bad = f" (+{counts.bad_lines} malformed lines)" if counts.bad_lines else ""
    print(
        f"ccpulse simulate: {scenario.name}: {simulation.call_count} calls, {counts.events} "
        f"events{bad} from {_iso(start)} to {where} in {elapsed:.1f} s",
        file=sys.stderr,
    )


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
