"""The gradient norm of every step, measured once and used twice: logged, and (with a stage's
``max_grad_norm``) to clip the gradients before the optimizer steps, as HF Trainer does (1.0 there).

Composer's ``GradientClipping`` algorithm clips but throws the norm away, so measuring it as well
would read every gradient twice; this callback measures the global L2 norm with
``torch.nn.utils.get_total_norm`` and clips with the same tensor. It runs at
``Event.AFTER_TRAIN_BATCH``: after every microbatch's backward and the data-parallel gradient
reduction, after AMP's gradient unscaling, before ``optimizer.step``. Under FSDP2 the gradients
are sharded ``DTensor`` s; their norm is a ``DTensor`` whose full value is one all-reduce. Nothing
here waits for the device: the norm stays a tensor until the step's row is written.
"""

from __future__ import annotations

import torch
from composer.core import Callback, State
from composer.loggers import Logger
from torch.nn.utils import clip_grads_with_norm_, get_total_norm


def global_norm(norm: torch.Tensor) -> torch.Tensor:
    """A plain tensor holding the whole norm (a sharded ``DTensor`` norm is reduced first)."""
    full = getattr(norm, "full_tensor", None)
    return full() if full is not None else norm


class GradNorm(Callback):
    """Measures the L2 norm of all gradients each step and clips it to ``max_norm`` when given.

    ``norm``: the last step's norm before clipping (a 0-dim tensor on the device, ``None`` before
    the first step); logged as ``train/grad_norm``.
    """

    def __init__(self, max_norm: float | None = None) -> None:
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"max_grad_norm must be positive, got {max_norm}; leave it unset for no clipping")
        self.max_norm = max_norm
        self.norm: torch.Tensor | None = None

    def after_train_batch(self, state: State, logger: Logger) -> None:
        params = [p for p in state.model.parameters() if p.grad is not None]
        if not params:
            self.norm = None
            return
        norm = get_total_norm([p.grad for p in params], 2.0, error_if_nonfinite=False)
        if self.max_norm is not None:
            clip_grads_with_norm_(params, self.max_norm, norm)
        self.norm = global_norm(norm).detach()

    def value(self) -> float | None:
        """The last norm as a number (waits for the device)."""
        return None if self.norm is None else float(self.norm)

    def batch_end(self, state: State, logger: Logger) -> None:
        if self.norm is not None:
            logger.log_metrics({"train/grad_norm": self.value()})
