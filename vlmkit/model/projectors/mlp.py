"""Token-wise projectors: ``linear`` and ``mlp`` (VILA's ``mlp2x_gelu`` is ``mlp`` with depth 2)."""

from __future__ import annotations

import torch
from torch import nn

from vlmkit.model.projectors.base import Projector


def mlp_stack(in_dim: int, out_dim: int, depth: int) -> nn.Sequential:
    """``depth`` Linear layers with GELU between them: ``in_dim -> out_dim -> ... -> out_dim``."""
    if depth < 1:
        raise ValueError(f"mlp depth must be at least 1, got {depth}")
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    for _ in range(depth - 1):
        layers += [nn.GELU(), nn.Linear(out_dim, out_dim)]
    return nn.Sequential(*layers)


class MLPProjector(Projector):
    """``[N, T, in_dim]`` -> ``[N, T, out_dim]`` through ``depth`` GELU-separated Linear layers.

    ``input_norm: true`` puts a LayerNorm over ``in_dim`` first (as Qwen2-VL's merger does): it
    centres and scales features whose channels differ widely in offset and spread, such as a CNN's
    post-activation maps.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_input_tokens: int,
        grid: tuple[int, int] | None = None,
        depth: int = 2,
        input_norm: bool = False,
    ) -> None:
        super().__init__(in_dim, out_dim, num_input_tokens, grid)
        self.depth = depth
        self.input_norm = input_norm
        self.norm = nn.LayerNorm(in_dim) if input_norm else nn.Identity()
        self.net = mlp_stack(in_dim, out_dim, depth)

    def output_tokens(self, num_tokens: int, grid: tuple[int, int] | None) -> int:
        return num_tokens

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(features))


def linear(in_dim: int, out_dim: int, num_input_tokens: int, grid: tuple[int, int] | None = None) -> MLPProjector:
    """One Linear layer (the paper's linear-projector ablation)."""
    return MLPProjector(in_dim, out_dim, num_input_tokens, grid, depth=1)
