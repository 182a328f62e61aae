"""FSDP2 on the CPU: gloo sums where FSDP2 asks it to average.

FSDP2 reduce-scatters fp32 gradients with ``ReduceOp.AVG``; the gloo backend (torch 2.7) returns
the sum, so every process's gradient shard is ``world_size`` times the mean that one process with
the whole batch computes. Adam barely notices (it is scale-invariant but for ``eps``), gradient
clipping, SGD and the logged grad norm do. The backend's answer is probed once, so a torch whose
gloo averages gets no correction.
"""

from __future__ import annotations

import torch
from composer.core import Callback, State
from composer.loggers import Logger


def avg_reduce_factor() -> float:
    """What ``reduce_scatter_tensor(op=AVG)`` returns for ones on the default gloo group: 1.0
    where it averages, the world size where it sums; 1.0 without a gloo process group."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_backend() != "gloo" or dist.get_world_size() == 1:
        return 1.0
    out = torch.empty(1)
    dist.reduce_scatter_tensor(out, torch.ones(dist.get_world_size()), op=dist.ReduceOp.AVG)
    return float(out.item())


class GlooAverage(Callback):
    """Divides the gradients by :func:`avg_reduce_factor` after backward (before clipping and the
    optimizer step); add it before :class:`~vlmkit.train.grad_norm.GradNorm` for FSDP2 stages."""

    def __init__(self) -> None:
        self.factor = 1.0

    def fit_start(self, state: State, logger: Logger) -> None:
        self.factor = avg_reduce_factor()

    def after_train_batch(self, state: State, logger: Logger) -> None:
        if self.factor != 1.0:
            for p in state.model.parameters():
                if p.grad is not None:
                    p.grad.div_(self.factor)
