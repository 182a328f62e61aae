"""Per-step training history: ``run_dir/<stage>/history.jsonl``, one JSON object per optimizer step.

Each row: ``stage``, ``step`` (batch within the stage), ``loss`` (global token-mean), ``lr`` (of
the first parameter group), ``tokens`` (real tokens this step, all processes), ``seconds`` (wall
time of the step), ``tokens_per_sec`` and ``mfu`` (when a peak FLOP rate is known). The rows are
part of the checkpoint, so after a resume the file is rewritten to match the restored state
before new rows are appended: an interrupted run ends with the same losses as an uninterrupted one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable

from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

FILENAME = "history.jsonl"


class LossHistory(Callback):
    """Records one row per step on rank 0 and appends it to ``path``.

    ``flops_per_batch`` (the wrapper's) and ``peak_flops`` (per process) give the ``mfu`` column.
    """

    def __init__(self, path: str | Path, stage: str, peak_flops: float | None = None) -> None:
        self.path = Path(path)
        self.stage = stage
        self.peak_flops = peak_flops
        self.rows: list[dict[str, Any]] = []
        self._start = 0.0
        self._tokens = 0
        self._flops = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = list(state.get("rows", []))
        if dist.get_global_rank() == 0:
            self._rewrite()

    def fit_start(self, state: State, logger: Logger) -> None:
        if dist.get_global_rank() == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rewrite()

    def _rewrite(self) -> None:
        from vlmkit.train.checkpoint import write_atomic

        text = "".join(json.dumps(r) + "\n" for r in self.rows)
        write_atomic(self.path, lambda tmp: tmp.write_text(text))

    def before_train_batch(self, state: State, logger: Logger) -> None:
        self._start = time.perf_counter()

    def after_dataloader(self, state: State, logger: Logger) -> None:
        batch = state.batch
        mask = batch.get("attention_mask")
        self._tokens = int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        flops = getattr(state.model, "flops_per_batch", None)
        if flops is None and hasattr(state.model, "module"):
            flops = getattr(state.model.module, "flops_per_batch", None)
        self._flops = float(flops(batch)) if flops is not None else 0.0

    def batch_end(self, state: State, logger: Logger) -> None:
        seconds = max(time.perf_counter() - self._start, 1e-9)
        world = dist.get_world_size()
        loss = (state.total_loss_dict or {}).get("loss/train/total")
        row = {
            "stage": self.stage,
            "step": int(state.timestamp.batch),
            "loss": None if loss is None else float(loss),
            "lr": float(state.optimizers[0].param_groups[0]["lr"]),
            "tokens": self._tokens * world,
            "seconds": seconds,
            "tokens_per_sec": self._tokens * world / seconds,
        }
        if self.peak_flops:
            row["mfu"] = self._flops / seconds / self.peak_flops
        self.rows.append(row)
        logger.log_metrics({"throughput/tokens_per_sec_step": row["tokens_per_sec"], **({"throughput/mfu": row["mfu"]} if "mfu" in row else {})})
        if dist.get_global_rank() == 0:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")


def read_history(run_dir: str | Path, stages: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """All rows of a run, stage by stage (``stages`` gives the order; default: folders by name)."""
    run_dir = Path(run_dir)
    names = list(stages) if stages is not None else sorted(p.name for p in run_dir.iterdir() if (p / FILENAME).is_file())
    rows: list[dict[str, Any]] = []
    for name in names:
        path = run_dir / name / FILENAME
        if path.is_file():
            rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows
