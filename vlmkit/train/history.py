"""Per-step training history: ``run_dir/<stage>/history.jsonl``, one JSON object per optimizer step
(read back with :func:`vlmkit.storage.layout.read_history`).

Each row: ``stage``, ``step`` (batch within the stage), ``loss`` (global token-mean), ``lr`` (of
the first parameter group), ``tokens`` (real tokens this step, all processes), ``seconds`` (wall
time of the step), ``tokens_per_sec``, ``grad_norm`` (the gradients' L2 norm before clipping,
from :class:`~vlmkit.train.grad_norm.GradNorm`), ``flops`` (this process's model FLOPs of the
step, when the model counts them) and ``mfu`` (when a peak FLOP rate is known; see
:class:`LossHistory` for why it never exceeds 1). The rows are
part of the checkpoint, so after a resume the file is rewritten to match the restored state
before new rows are appended: an interrupted run ends with the same losses as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

from vlmkit.storage import layout
from vlmkit.storage.atomic import write_text_atomic
from vlmkit.storage.deprecated import moved_names

if TYPE_CHECKING:
    from vlmkit.train.grad_norm import GradNorm
    from vlmkit.train.peak import Peak

log = logging.getLogger(__name__)


class LossHistory(Callback):
    """Records one row per step on rank 0 and appends it to ``path``.

    ``flops_per_batch`` (the wrapper's) and ``peak`` (per process, a :class:`~vlmkit.train.peak.Peak`)
    give the ``mfu`` column. A step that runs faster than the peak shows the peak was measured low
    (a busy machine): the peak is raised to that step's rate, with one warning, so MFU stays a
    fraction of the best rate this process has seen.
    """

    def __init__(self, path: str | Path, stage: str, peak: "Peak | None" = None, grad_norm: "GradNorm | None" = None) -> None:
        self.path = Path(path)
        self.stage = stage
        self.peak = peak
        self.grad_norm = grad_norm
        self._measured_peak: str | None = None  # set when a step beat the measured peak
        self.rows: list[dict[str, Any]] = []
        self._start = 0.0
        self._tokens = 0
        self._flops = 0.0

    def state_dict(self) -> dict[str, Any]:
        # one JSON string (exact for floats): a sharded checkpoint (DCP) flattens lists of dicts into
        # keys, and a fresh run's empty list could not receive them
        return {"rows": json.dumps(self.rows)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        rows = state.get("rows", [])
        self.rows = json.loads(rows) if isinstance(rows, str) else list(rows)
        if dist.get_global_rank() == 0:
            self._rewrite()

    def fit_start(self, state: State, logger: Logger) -> None:
        if dist.get_global_rank() == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rewrite()

    def _rewrite(self) -> None:
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))

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
        if self.grad_norm is not None and self.grad_norm.norm is not None:
            row["grad_norm"] = self.grad_norm.value()
        if self._flops > 0:
            row["flops"] = self._flops
        if self.peak is not None:
            row["mfu"] = self._flops / seconds / self._raise_peak(self._flops / seconds).flops
        self.rows.append(row)
        logger.log_metrics({"throughput/tokens_per_sec_step": row["tokens_per_sec"], **({"throughput/mfu": row["mfu"]} if "mfu" in row else {})})
        if dist.get_global_rank() == 0:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")

    def _raise_peak(self, achieved: float) -> "Peak":
        """The peak, raised to ``achieved`` FLOP/s when a step beat it (warned about once)."""
        from vlmkit.train.peak import Peak

        if achieved > self.peak.flops:
            if self._measured_peak is None:
                self._measured_peak = str(self.peak)
                log.warning("stage %r: a step ran at %.1f GFLOP/s, above the measured peak %s (a busy machine when it "
                            "was measured?); MFU is relative to the fastest step from now on", self.stage, achieved / 1e9,
                            self._measured_peak)
            self.peak = Peak(achieved, f"the fastest step so far; measured peak was {self._measured_peak}")
        return self.peak


__getattr__ = moved_names(__name__, {  # spellings from before vlmkit.storage
    "FILENAME": ("vlmkit.storage.layout.HISTORY", layout.HISTORY),
    "read_history": ("vlmkit.storage.layout.read_history", layout.read_history),
})
