"""``python -m vlmkit.train RECIPE.yaml [--stage NAME] [key=value ...]``: the entry point the
Composer launcher runs in every process (``composer -n N -m vlmkit.train ...``).

A user error ends the process with one line on stderr (prefixed with the rank) and exit code 1; the
launcher then stops the other ranks and shows that rank's output.

``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` here (set before torch loads): with several processes
or other work on few cores, spinning OpenMP threads made CPU steps 1.7-3x slower (measured on the
2-core VM); export it to override.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None, dataloader_factory=None) -> int:
    from vlmkit.cli import USER_ERRORS
    from vlmkit.commands.train import add_arguments, run

    parser = argparse.ArgumentParser(prog="python -m vlmkit.train", description="Train a vlmkit recipe (one process of N).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    rank = os.environ.get("RANK", "0")
    try:
        return run(args, dataloader_factory=dataloader_factory)
    except USER_ERRORS as exc:
        if os.environ.get("VLMKIT_DEBUG"):
            raise
        print(f"vlmkit train (rank {rank}): error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt as exc:  # vlmkit.train.stages.Interrupted says where to resume
        print(f"vlmkit train (rank {rank}): interrupted" + (f": {exc}" if str(exc) else ""), file=sys.stderr, flush=True)
        return getattr(exc, "exit_code", 130)


if __name__ == "__main__":
    sys.exit(main())
