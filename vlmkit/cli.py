"""The ``vlmkit`` command. Each subcommand is a module in :mod:`vlmkit.commands` exposing
``add_parser(subparsers)``; heavy imports happen inside the command, after argument parsing."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from vlmkit.console import USER_ERRORS, run_reporting  # noqa: F401 (USER_ERRORS: kept for `from vlmkit.cli import USER_ERRORS`)

# Under load, OpenMP threads that spin while waiting stall 2-core machines (measured 1.7-3x slower
# steps); must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

COMMANDS = ("train", "plan", "check", "convert", "generate", "eval", "export", "ablate", "demo", "plugins")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlmkit", description="Build, train and evaluate visual language models (VILA-style).")
    parser.add_argument("--version", action="version", version=f"vlmkit {importlib.import_module('vlmkit').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"vlmkit.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"vlmkit.commands.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return run_reporting(f"vlmkit {args.command}", lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
