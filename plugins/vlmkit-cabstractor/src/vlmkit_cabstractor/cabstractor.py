"""C-Abstractor (Honeybee: "Locality-enhanced Projector for Multimodal LLM", Cha et al., CVPR 2024).

Vision tokens are laid back out on their 2-D grid, passed through residual convolution blocks
(locality is kept, unlike a resampler's global attention), pooled adaptively to a fixed
``sqrt(num_queries) x sqrt(num_queries)`` grid, refined by more blocks, and read out to the LLM
width by an MLP. The token count is set by ``num_queries`` whatever the encoder's resolution.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vlmkit import Projector


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over channels at each position: ``[N, C, H, W]`` -> ``[N, C, H, W]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class SqueezeExcite(nn.Module):
    """Channel gating from globally pooled features: ``[N, C, H, W]`` -> same shape."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.SiLU(), nn.Conv2d(hidden, channels, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class ResBlock(nn.Module):
    """Bottleneck residual block: 1x1 -> 3x3 -> squeeze-excite -> 1x1, plus a (projected) skip.

    ``[N, in_ch, H, W]`` -> ``[N, out_ch, H, W]``.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 1, bias=False), LayerNorm2d(out_ch), nn.SiLU(),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False), LayerNorm2d(out_ch), nn.SiLU(),
            SqueezeExcite(out_ch),
            nn.Conv2d(out_ch, out_ch, 1, bias=False), LayerNorm2d(out_ch),
        )
        self.skip = nn.Identity() if in_ch == out_ch else nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), LayerNorm2d(out_ch))
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


def infer_grid(num_tokens: int, grid: tuple[int, int] | None) -> tuple[tuple[int, int], int]:
    """``(grid, leading_tokens_to_drop)`` for an encoder's output.

    With no grid, a square token count is taken as a square grid and a square-plus-one count as a
    CLS token followed by a square grid (the CLS token is dropped).
    """
    if grid is not None:
        rows, cols = grid
        if rows * cols != num_tokens:
            raise ValueError(f"c_abstractor: grid {grid} does not hold {num_tokens} tokens")
        return (rows, cols), 0
    for drop in (0, 1):
        side = math.isqrt(num_tokens - drop)
        if side > 0 and side * side == num_tokens - drop:
            return (side, side), drop
    raise ValueError(
        f"c_abstractor needs image tokens on a 2-D grid, but the encoder gives {num_tokens} tokens and no grid; "
        "use an encoder that reports its grid (e.g. select_feature: patch)"
    )


# --8<-- [start:projector]
class CAbstractor(Projector):
    """``[N, num_input_tokens, in_dim]`` -> ``[N, num_queries, out_dim]``.

    Options (recipe keys under ``model.projector``): ``num_queries`` (a square number; default 16),
    ``depth`` (residual blocks before and after pooling; default 3), ``hidden_dim`` (channels of the
    conv blocks; default ``in_dim``), ``pos_emb`` (learned positions added to the input; default on).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_input_tokens: int,
        grid: tuple[int, int] | None = None,
        num_queries: int = 16,
        depth: int = 3,
        hidden_dim: int | None = None,
        pos_emb: bool = True,
    ) -> None:
        super().__init__(in_dim, out_dim, num_input_tokens, grid)
        side = math.isqrt(num_queries)
        if num_queries < 1 or side * side != num_queries:
            raise ValueError(f"c_abstractor: num_queries must be a square number (1, 4, 16, 64, 144, ...), got {num_queries}")
        if depth < 0:
            raise ValueError(f"c_abstractor: depth must be >= 0, got {depth}")
        self.num_queries = num_queries
        self.in_grid, self.drop = infer_grid(num_input_tokens, grid)
        hidden = hidden_dim or in_dim
        self.pos_emb = nn.Parameter(torch.randn(1, num_input_tokens - self.drop, in_dim) * 0.02) if pos_emb else None
        self.before = nn.Sequential(*[ResBlock(in_dim if i == 0 else hidden, hidden) for i in range(depth)])
        self.pool = nn.AdaptiveAvgPool2d((side, side))
        self.after = nn.Sequential(*[ResBlock(hidden if depth else in_dim, hidden) for _ in range(depth)])
        width = hidden if depth else in_dim
        self.readout = nn.Sequential(nn.Linear(width, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))

    def output_tokens(self, num_tokens: int, grid: tuple[int, int] | None) -> int:
        return self.num_queries

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features[:, self.drop :]
        if self.pos_emb is not None:
            x = x + self.pos_emb.to(x.dtype)
        rows, cols = self.in_grid
        x = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], rows, cols)
        x = self.after(self.pool(self.before(x)))
        return self.readout(x.flatten(2).transpose(1, 2))
# --8<-- [end:projector]
