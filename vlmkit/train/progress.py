"""A progress bar per stage on rank 0: loss, tokens/s and MFU of the latest step."""

from __future__ import annotations

import sys

from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

from vlmkit.train.history import LossHistory


class ProgressBar(Callback):
    """tqdm bar over the stage's batches, fed by the :class:`LossHistory` rows."""

    def __init__(self, history: LossHistory, total_batches: int | None, stream=None) -> None:
        self.history = history
        self.total = total_batches
        self.stream = stream or sys.stderr
        self.bar = None

    def fit_start(self, state: State, logger: Logger) -> None:
        if dist.get_global_rank() != 0:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=self.total, initial=int(state.timestamp.batch), desc=self.history.stage,
            unit="step", file=self.stream, dynamic_ncols=True,
        )
        if self.history.peak is not None:
            self.bar.write(f"{self.history.stage}: MFU is relative to {self.history.peak}", file=self.stream)

    def batch_end(self, state: State, logger: Logger) -> None:
        if self.bar is None or not self.history.rows:
            return
        row = self.history.rows[-1]
        post = {"loss": f"{row['loss']:.4f}" if row["loss"] is not None else "-", "tok/s": f"{row['tokens_per_sec']:.0f}"}
        if "mfu" in row:
            post["mfu"] = f"{100 * row['mfu']:.1f}%"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def fit_end(self, state: State, logger: Logger) -> None:
        self.close(state, logger)

    def close(self, state: State, logger: Logger) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
