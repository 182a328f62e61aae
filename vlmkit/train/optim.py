"""Optimizer and learning-rate schedule of a stage, from its ``optimizer:`` and ``scheduler:`` keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:
    from vlmkit.config import OptimizerConfig, SchedulerConfig


def _decoupled_adamw(groups: list[dict], cfg: "OptimizerConfig", device: str) -> torch.optim.Optimizer:
    from composer.optim import DecoupledAdamW

    return DecoupledAdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def _adamw(groups: list[dict], cfg: "OptimizerConfig", device: str) -> torch.optim.Optimizer:
    # on a GPU one fused kernel updates every parameter (the per-op update is ~30% of an H100 step)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
                             fused=True if device == "gpu" else None)


def _decoupled_sgdw(groups: list[dict], cfg: "OptimizerConfig", device: str) -> torch.optim.Optimizer:
    from composer.optim import DecoupledSGDW

    return DecoupledSGDW(groups, lr=cfg.lr, momentum=cfg.betas[0], weight_decay=cfg.weight_decay)


OPTIMIZERS: dict[str, Callable[[list[dict], "OptimizerConfig", str], torch.optim.Optimizer]] = {
    "decoupled_adamw": _decoupled_adamw,
    "adamw": _adamw,
    "decoupled_sgdw": _decoupled_sgdw,
}

# Optimizer state tensors per trainable parameter (for memory planning).
STATE_TENSORS = {"decoupled_adamw": 2, "adamw": 2, "decoupled_sgdw": 1}


def build_optimizer(groups: list[dict], cfg: "OptimizerConfig", device: str = "cpu") -> torch.optim.Optimizer:
    """The optimizer named by ``cfg.name`` over ``groups`` (see :func:`vlmkit.train.freezing.param_groups`)
    for parameters that train on ``device`` (``"cpu"`` or ``"gpu"``: ``adamw`` is fused on a GPU)."""
    return OPTIMIZERS[cfg.name](groups, cfg, device)


def _cosine(cfg: "SchedulerConfig"):
    from composer.optim import CosineAnnealingWithWarmupScheduler

    return CosineAnnealingWithWarmupScheduler(t_warmup=cfg.warmup, alpha_f=cfg.alpha_f)


def _linear(cfg: "SchedulerConfig"):
    from composer.optim import LinearWithWarmupScheduler

    return LinearWithWarmupScheduler(t_warmup=cfg.warmup, alpha_f=cfg.alpha_f)


def _constant(cfg: "SchedulerConfig"):
    from composer.optim import ConstantWithWarmupScheduler

    return ConstantWithWarmupScheduler(t_warmup=cfg.warmup)


SCHEDULERS = {"cosine_with_warmup": _cosine, "linear_with_warmup": _linear, "constant_with_warmup": _constant}


def build_scheduler(cfg: "SchedulerConfig"):
    """The Composer scheduler named by ``cfg.name`` (warmup then cosine/linear/constant, per batch)."""
    return SCHEDULERS[cfg.name](cfg)
