"""Optimizer and learning-rate schedule of a stage, from its ``optimizer:`` and ``scheduler:`` keys.

Both are registry kinds (``registry.optimizers``, ``registry.schedulers``; the built-ins are
registered in :mod:`vlmkit.train.builtins`):

- an optimizer factory is called as ``factory(groups, cfg, device)``: the parameter groups of
  :func:`vlmkit.train.freezing.param_groups` (each with its ``lr``), the stage's
  :class:`~vlmkit.config.OptimizerConfig` and ``"cpu"`` or ``"gpu"``; it returns a
  ``torch.optim.Optimizer``;
- a scheduler factory is called as ``factory(cfg)`` with the stage's
  :class:`~vlmkit.config.SchedulerConfig` and returns a Composer scheduler (stepped every batch).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch

from vlmkit.registry import registries

if TYPE_CHECKING:
    from vlmkit.config import OptimizerConfig, SchedulerConfig


def decoupled_adamw(groups: list[dict], cfg: "OptimizerConfig", device: str) -> torch.optim.Optimizer:
    from composer.optim import DecoupledAdamW

    return DecoupledAdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def adamw(groups: list[dict], cfg: "OptimizerConfig", device: str) -> torch.optim.Optimizer:
    # on a GPU one fused kernel updates every parameter (the per-op update is ~30% of an H100 step)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
                             fused=True if device == "gpu" else None)


def decoupled_sgdw(groups: list[dict], cfg: "OptimizerConfig", device: str) -> torch.optim.Optimizer:
    from composer.optim import DecoupledSGDW

    return DecoupledSGDW(groups, lr=cfg.lr, momentum=cfg.betas[0], weight_decay=cfg.weight_decay)


def build_optimizer(groups: list[dict], cfg: "OptimizerConfig", device: str = "cpu") -> torch.optim.Optimizer:
    """The optimizer registered as ``cfg.name`` over ``groups`` (see :func:`vlmkit.train.freezing.param_groups`)
    for parameters that train on ``device`` (``"cpu"`` or ``"gpu"``: ``adamw`` is fused on a GPU)."""
    return registries().optimizers.get(cfg.name)(groups, cfg, device)


def state_tensors(cfg: "OptimizerConfig") -> int:
    """Full-size state tensors the optimizer of ``cfg`` keeps per trained parameter (Adam: 2, SGD with
    momentum: 1), counted after one step on a small parameter (for memory planning)."""
    return _count_state(cfg.model_dump_json())


@lru_cache(maxsize=None)
def _count_state(cfg_json: str) -> int:
    from vlmkit.config import OptimizerConfig

    cfg = OptimizerConfig.model_validate_json(cfg_json)
    param = torch.nn.Parameter(torch.ones(3, 5))
    optimizer = build_optimizer([{"params": [param], "lr": cfg.lr}], cfg, "cpu")
    param.grad = torch.full_like(param, 0.1)
    optimizer.step()
    state = optimizer.state.get(param, {})
    return sum(1 for v in state.values() if isinstance(v, torch.Tensor) and v.shape == param.shape)


def cosine_with_warmup(cfg: "SchedulerConfig"):
    from composer.optim import CosineAnnealingWithWarmupScheduler

    return CosineAnnealingWithWarmupScheduler(t_warmup=cfg.warmup, alpha_f=cfg.alpha_f)


def linear_with_warmup(cfg: "SchedulerConfig"):
    from composer.optim import LinearWithWarmupScheduler

    return LinearWithWarmupScheduler(t_warmup=cfg.warmup, alpha_f=cfg.alpha_f)


def constant_with_warmup(cfg: "SchedulerConfig"):
    from composer.optim import ConstantWithWarmupScheduler

    return ConstantWithWarmupScheduler(t_warmup=cfg.warmup)


def build_scheduler(cfg: "SchedulerConfig"):
    """The Composer scheduler registered as ``cfg.name`` (built-ins: warmup then cosine/linear/constant, per batch)."""
    return registries().schedulers.get(cfg.name)(cfg)


def _optimizer_state_counts() -> dict[str, int]:
    from vlmkit.config import OptimizerConfig

    return {name: state_tensors(OptimizerConfig(name=name, lr=1e-3)) for name in registries().optimizers}


_DEPRECATED = {  # old module-level tables (issue #18): name -> (replacement, value)
    "OPTIMIZERS": ("vlmkit.registry.registries().optimizers (registry.optimizers.register in a plugin)", lambda: {n: registries().optimizers.get(n) for n in registries().optimizers}),
    "SCHEDULERS": ("vlmkit.registry.registries().schedulers (registry.schedulers.register in a plugin)", lambda: {n: registries().schedulers.get(n) for n in registries().schedulers}),
    "STATE_TENSORS": ("vlmkit.train.optim.state_tensors(cfg)", _optimizer_state_counts),
}


def __getattr__(name: str) -> Any:
    if name not in _DEPRECATED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    replacement, value = _DEPRECATED[name]
    warnings.warn(f"vlmkit.train.optim.{name} is deprecated and now a read-only copy; use {replacement}",
                  DeprecationWarning, stacklevel=2)
    return value()
