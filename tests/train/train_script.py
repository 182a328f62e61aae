"""``vlmkit.train``'s entry point on synthetic data, with fault injection for the tests.

    python train_script.py RECIPE.yaml [overrides] [--kill-in-save K] [--fail-rank R]
    composer -n 2 train_script.py RECIPE.yaml [...]

``--kill-in-save K``: at the K-th checkpoint save, write half of the file, then SIGKILL this
process (a crash in the middle of a checkpoint write). ``--fail-rank R``: rank R raises while
loading its third batch (one rank failing in a multi-process run).
"""

from __future__ import annotations

import os
import signal
import sys


def pop_option(argv: list[str], name: str) -> int | None:
    if name not in argv:
        return None
    i = argv.index(name)
    value = int(argv[i + 1])
    del argv[i: i + 2]
    return value


def kill_in_save(k: int) -> None:
    from vlmkit.train import checkpoint

    original, calls = checkpoint.save_checkpoint, [0]

    def save_then_die(state, filename):
        calls[0] += 1
        written = original(state, filename)
        if calls[0] == k:
            size = os.path.getsize(filename)
            with open(filename, "r+b") as f:
                f.truncate(size // 2)
            os.kill(os.getpid(), signal.SIGKILL)
        return written

    checkpoint.save_checkpoint = save_then_die


class FailingLoader:
    """Yields from ``loader`` and raises at the third batch."""

    def __init__(self, loader, rank: int) -> None:
        self.loader, self.rank = loader, rank

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i == 2:
                raise RuntimeError(f"simulated failure on rank {self.rank}")
            yield batch


def main() -> int:
    from vlmkit.train.__main__ import main as train_main
    from vlmkit.testing.synthetic import synthetic_factory

    argv = sys.argv[1:]
    k, fail_rank = pop_option(argv, "--kill-in-save"), pop_option(argv, "--fail-rank")
    if k is not None:
        kill_in_save(k)
    data = synthetic_factory(num_rows=64)
    rank = int(os.environ.get("RANK", "0"))

    def factory(recipe, stage, model, batch_size):
        loader = data(recipe, stage, model, batch_size)
        return FailingLoader(loader, rank) if rank == fail_rank else loader

    return train_main(argv + ["--no-preflight"], dataloader_factory=factory)


if __name__ == "__main__":
    sys.exit(main())
