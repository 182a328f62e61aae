"""A progress bar per stage on rank 0: loss, tokens/s and MFU of the latest step, and, after the
first steps, one line forecasting how long the stage's remaining steps take."""

from __future__ import annotations

import sys

from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

from vlmkit.train.history import LossHistory

# steps timed for the forecast, after the first step of a fit (which also builds and warms up)
FORECAST_STEPS = 3


def minutes(seconds: float) -> str:
    """``"42 s"`` under two minutes, else ``"3.5 min"``."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def forecast_line(stage: str, seconds_per_step: float, done: int, total: int | None) -> str:
    """``"sft: 5.8 s/step over steps 2-4; about 11.2 min for the 116 steps left"``."""
    first = done - FORECAST_STEPS + 1
    line = f"{stage}: {seconds_per_step:.2f} s/step over steps {first}-{done}"
    if total is not None and total > done:
        line += f"; about {minutes(seconds_per_step * (total - done))} for the {total - done} steps left"
    return line


class ProgressBar(Callback):
    """tqdm bar over the stage's batches, fed by the :class:`LossHistory` rows; after the first
    ``1 + FORECAST_STEPS`` steps of a fit it writes :func:`forecast_line` from the last ``FORECAST_STEPS``."""

    def __init__(self, history: LossHistory, total_batches: int | None, stream=None) -> None:
        self.history = history
        self.total = total_batches
        self.stream = stream or sys.stderr
        self.bar = None
        self.steps = 0  # steps of this fit

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
        self.steps += 1
        if self.steps == 1 + FORECAST_STEPS:
            pace = sum(r["seconds"] for r in self.history.rows[-FORECAST_STEPS:]) / FORECAST_STEPS
            self.bar.write(forecast_line(self.history.stage, pace, int(row["step"]), self.total), file=self.stream)

    def fit_end(self, state: State, logger: Logger) -> None:
        self.close(state, logger)

    def close(self, state: State, logger: Logger) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
