"""Benchmark harness (``from steptimer import ...`` in the scripts beside it): time real training
steps of a model on one fixed batch, through the same Composer assembly as ``vlmkit train`` (also a
way to measure the FLOP/s ``vlmkit plan --throughput`` takes), and measure the activation memory a
step keeps for backward."""

from __future__ import annotations

import tempfile
import time
from typing import Any

import torch

from vlmkit.config import validate_recipe


class Repeat:
    """An endless loader of one batch."""

    def __init__(self, batch: dict) -> None:
        self.batch = batch

    def __iter__(self):
        while True:
            yield self.batch


def single_stage_recipe(model: dict, stage: dict[str, Any], run_dir: str, seq_len: int, **trainer: Any):
    """A one-stage recipe ``s`` around ``model`` (a ``model:`` mapping) with a placeholder dataset
    (the data comes from :class:`Repeat`), no checkpoints, no progress bar."""
    stage = {"mixture": {"d": 1.0}, "scheduler": {"warmup": "1ba"}, "duration": "1000000ba", **stage}
    return validate_recipe({
        "name": "steptimer", "model": model, "datasets": {"d": {"kind": "pairs", "local": run_dir}},
        "data": {"max_seq_len": seq_len}, "stages": {"s": stage},
        "trainer": {"run_dir": run_dir, "save_num_checkpoints_to_keep": 0, "progress_bar": False, **trainer},
    })


def cuda_sync() -> None:
    """Wait for the GPU's queued work (a no-op without CUDA), so a timer measures it."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepTimer:
    """A vlmkit trainer for ``stage`` of ``model`` (a built VisionLanguageModel) on ``batch``;
    ``seconds(n)`` trains ``n`` more steps and returns the seconds per step. Use as a context manager."""

    def __init__(self, model_cfg: dict, stage: dict[str, Any], model, batch: dict, seq_len: int | None = None, **trainer: Any) -> None:
        from vlmkit.train.trainer import build_stage

        self._dir = tempfile.TemporaryDirectory()
        recipe = single_stage_recipe(model_cfg, stage, self._dir.name, seq_len or batch["input_ids"].shape[1], **trainer)
        self.run = build_stage(recipe, "s", model, lambda *a: Repeat(batch))

    def seconds(self, steps: int = 1) -> float:
        cuda_sync()
        start = time.perf_counter()
        self.run.trainer.fit(duration=f"{steps}ba")
        cuda_sync()
        return (time.perf_counter() - start) / steps

    def __enter__(self) -> "StepTimer":
        return self

    def __exit__(self, *exc) -> None:
        self.run.trainer.close()
        self._dir.cleanup()


def time_steps(model_cfg: dict, stage: dict[str, Any], model, batch: dict, steps: int, warmup: int = 1,
               seq_len: int | None = None, **trainer: Any) -> float:
    """Seconds per optimizer step of ``model`` training ``stage`` on ``batch`` with the vlmkit
    trainer, after ``warmup`` steps."""
    with StepTimer(model_cfg, stage, model, batch, seq_len, **trainer) as timer:
        timer.seconds(warmup)
        return timer.seconds(steps)


def saved_activation_bytes(model, batch: dict) -> int:
    """Bytes of the distinct non-parameter tensors autograd keeps for backward in one forward of
    ``model(**batch)`` (counted with ``saved_tensors_hooks``); runs backward to free them."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(**batch).loss
    loss.backward()
    model.zero_grad(set_to_none=True)
    return sum(seen.values())
