"""`ccpulse` command line: one sub-command per module in this package.

Each module defines `register(subparsers)` which adds its parser and sets `func` (taking the
parsed args, returning an exit code). Modules are discovered, so adding a command never edits
this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from streams import __version__
from streams.errors import UserError
from streams.kpi import BUILD as ENGINE_BUILD
from streams.runtime import tune_garbage_collector


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccpulse", description="Real-time contact-centre KPIs (service level, ASA, ...)."
    )
    parser.add_argument(
        "--version", action="version", version=f"ccpulse {__version__} (engine: {ENGINE_BUILD})"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    tune_garbage_collector()
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"ccpulse {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
