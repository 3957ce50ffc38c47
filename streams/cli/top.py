"""`ccpulse top`: a live terminal wallboard over the snapshots the worker publishes to Redis."""

from __future__ import annotations

import argparse
import math

from streams.config import load_settings
from streams.errors import UserError
from streams.live.environment import redis_from_env
from streams.wallboard.view import window_names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "top",
        help="live terminal wallboard (reads the snapshots in Redis)",
        description="Show every queue's calls waiting, oldest call, service level against its "
        "target, ASA, abandon rate and agents by state, refreshed every second from Redis "
        "($CCPULSE_REDIS_URL, default redis://127.0.0.1:6379/0). Keys: w / W next / previous "
        "window, 1-9 pick a window, q quit.",
    )
    parser.add_argument("--config", help="config file for windows and targets")
    parser.add_argument("--window", help="window shown first (default 15m)")
    parser.add_argument(
        "--refresh", type=float, default=1.0, help="seconds between reads (default 1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    windows = window_names(settings)
    if args.window is not None and args.window not in windows:
        raise UserError(f"--window {args.window!r} is not one of {', '.join(windows)}")
    if not (math.isfinite(args.refresh) and args.refresh > 0):
        raise UserError(f"--refresh {args.refresh} must be a number of seconds above 0")
    connection = redis_from_env()
    from streams.wallboard.app import Wallboard
    from streams.wallboard.source import RedisSource

    source = RedisSource(connection.url, connection.client_kwargs())
    app = Wallboard(settings, source, f"Redis {connection.redacted()}", args.window, args.refresh)
    app.run()
    return 0
