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
    from vlmkit.console import run_reporting
    from vlmkit.train.entry import add_arguments, run

    parser = argparse.ArgumentParser(prog="python -m vlmkit.train", description="Train a vlmkit recipe (one process of N).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    prog = f"vlmkit train (rank {os.environ.get('RANK', '0')})"
    return run_reporting(prog, lambda: run(args, dataloader_factory=dataloader_factory))


if __name__ == "__main__":
    sys.exit(main())
