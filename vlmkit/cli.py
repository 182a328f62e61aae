"""The ``vlmkit`` command. Each subcommand is a module in :mod:`vlmkit.commands` exposing
``add_parser(subparsers)``; heavy imports happen inside the command, after argument parsing."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Under load, OpenMP threads that spin while waiting stall 2-core machines (measured 1.7-3x slower
# steps); must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

COMMANDS = ("train", "plan", "check", "convert", "generate", "eval", "export", "ablate", "demo", "plugins")

# Errors a user can fix from the message alone: printed as one line, no traceback
# (set VLMKIT_DEBUG=1 for the traceback).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError, FileNotFoundError, PermissionError)


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
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        if os.environ.get("VLMKIT_DEBUG"):
            raise
        print(f"vlmkit {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # vlmkit.train.stages.Interrupted says where to resume
        print(f"vlmkit {args.command}: interrupted" + (f": {exc}" if str(exc) else ""), file=sys.stderr)
        return getattr(exc, "exit_code", 130)


if __name__ == "__main__":
    sys.exit(main())
