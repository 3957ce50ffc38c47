"""`ccpulse services start|stop|status|fetch`: the local Kafka and Redis, from a shell.

Started services outlive this command; their pids are recorded under `<var>/run/` so `stop`
and `status` work from any shell. Data and logs stay under `<var>/kafka` and `<var>/redis`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from streams.errors import UserError
from streams.services.kafka import (
    DEFAULT_BROKER_PORT,
    DEFAULT_CONTROLLER_PORT,
    KafkaBroker,
    build_class_archive,
)
from streams.services.kafka_dist import KafkaDistribution
from streams.services.process import ManagedService
from streams.services.redis_server import DEFAULT_PORT as DEFAULT_REDIS_PORT
from streams.services.redis_server import PASSWORD_ENV, RedisServer
from streams.services.registry import ServiceRecord, read_record, stop_recorded, write_record

SERVICE_NAMES = ("kafka", "redis")
EXIT_NOT_RUNNING = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "services",
        help="start, stop or inspect the local Kafka broker and redis-server",
        description="Run the project's own local Kafka (KRaft, jars from Maven Central) and "
        "redis-server on 127.0.0.1. Without --kafka/--redis an action applies to both. "
        f"A Redis password comes from ${PASSWORD_ENV} (never a flag).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (
        ("start", "start the services (no-op for one already running) and wait until they answer"),
        ("stop", "stop the services: SIGTERM, then SIGKILL after a deadline"),
        ("status", f"show what runs; exit {EXIT_NOT_RUNNING} if a selected service is down"),
        ("fetch", "download Kafka's jars and build its class archive (no-op when cached)"),
    ):
        sub = actions.add_parser(action, help=help_text, description=help_text)
        if action != "fetch":
            _add_common(sub)
        sub.set_defaults(func=_ACTIONS[action])


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kafka", action="store_true", help="only (or also) the Kafka broker")
    parser.add_argument("--redis", action="store_true", help="only (or also) redis-server")
    parser.add_argument(
        "--var-dir",
        default=os.environ.get("CCPULSE_VAR_DIR", "var"),
        help="data, logs and pid records (default: $CCPULSE_VAR_DIR or ./var)",
    )
    parser.add_argument(
        "--kafka-port",
        type=int,
        default=_env_int("CCPULSE_KAFKA_PORT", DEFAULT_BROKER_PORT),
        help=f"broker port (default: $CCPULSE_KAFKA_PORT or {DEFAULT_BROKER_PORT})",
    )
    parser.add_argument(
        "--kafka-controller-port",
        type=int,
        default=_env_int("CCPULSE_KAFKA_CONTROLLER_PORT", DEFAULT_CONTROLLER_PORT),
        help=f"KRaft controller port (default: {DEFAULT_CONTROLLER_PORT})",
    )
    parser.add_argument(
        "--redis-port",
        type=int,
        default=_env_int("CCPULSE_REDIS_PORT", DEFAULT_REDIS_PORT),
        help=f"redis port (default: $CCPULSE_REDIS_PORT or {DEFAULT_REDIS_PORT})",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for start/stop (default 120)"
    )


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"${name}={raw!r} is not a port number; set a whole number") from None


def _selected(args: argparse.Namespace) -> list[str]:
    chosen = [name for name in SERVICE_NAMES if getattr(args, name)]
    return chosen or list(SERVICE_NAMES)


def _run_dir(args: argparse.Namespace) -> Path:
    return Path(args.var_dir).resolve() / "run"


def _service(name: str, args: argparse.Namespace) -> ManagedService:
    var_dir = Path(args.var_dir).resolve()
    if name == "kafka":
        return KafkaBroker(
            var_dir / "kafka",
            port=args.kafka_port,
            controller_port=args.kafka_controller_port,
            bind_to_parent=False,
        )
    return RedisServer(
        var_dir / "redis",
        port=args.redis_port,
        password=os.environ.get(PASSWORD_ENV),
        bind_to_parent=False,
    )


def _client_hint(name: str, address: str) -> str:
    if name == "kafka":
        return f"CCPULSE_KAFKA_BOOTSTRAP={address}"
    password_note = f" (password from ${PASSWORD_ENV})" if os.environ.get(PASSWORD_ENV) else ""
    return f"CCPULSE_REDIS_URL=redis://{address}/0{password_note}"


def start(args: argparse.Namespace) -> int:
    run_dir = _run_dir(args)
    for name in _selected(args):
        record = read_record(run_dir, name)
        if record is not None and record.alive:
            print(f"{name}: already running (pid {record.pid}) on {record.address}")
            continue
        service = _service(name, args)
        began = time.monotonic()
        service.start(timeout=args.timeout)
        assert service.pid is not None
        write_record(
            run_dir,
            ServiceRecord(
                name=name,
                pid=service.pid,
                address=service.address,
                marker=service.process_marker,
                data_dir=str(service.data_dir),
                log_file=str(service.log_file),
                started_at=time.time(),
            ),
        )
        print(
            f"{name}: started (pid {service.pid}) on {service.address} in "
            f"{time.monotonic() - began:.1f}s; {_client_hint(name, service.address)}; "
            f"logs in {service.data_dir}"
        )
    return 0


def stop(args: argparse.Namespace) -> int:
    # Reverse order: Kafka first would not matter today, but consumers of Redis come later.
    for name in reversed(_selected(args)):
        print(stop_recorded(_run_dir(args), name, timeout=min(args.timeout, 60.0)))
    return 0


def status(args: argparse.Namespace) -> int:
    all_up = True
    for name in _selected(args):
        record = read_record(_run_dir(args), name)
        if record is not None and record.alive:
            uptime = time.time() - record.started_at
            print(f"{name}: running (pid {record.pid}) on {record.address}, up {uptime:.0f}s")
        else:
            all_up = False
            print(f"{name}: stopped")
    return 0 if all_up else EXIT_NOT_RUNNING


def fetch(args: argparse.Namespace) -> int:
    del args
    distribution = KafkaDistribution()
    began = time.monotonic()
    was_cached = distribution.ready
    lib_dir = distribution.ensure()
    how = "cached" if was_cached else f"fetched in {time.monotonic() - began:.1f}s"
    print(f"kafka {distribution.version}: {how} at {lib_dir}", file=sys.stderr)
    began = time.monotonic()
    archive = build_class_archive(distribution)
    if archive is None:
        print("kafka: no class archive (broker starts are slower, nothing else)", file=sys.stderr)
    elif time.monotonic() - began > 1.0:
        print(f"kafka: class archive built in {time.monotonic() - began:.1f}s", file=sys.stderr)
    return 0


_ACTIONS = {"start": start, "stop": stop, "status": status, "fetch": fetch}
