"""``downsample``: merge each k x k block of neighbouring tokens, then an MLP (VILA-1.5 ``mlp_downsample``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vlmkit.model.projectors.base import Projector
from vlmkit.model.projectors.mlp import mlp_stack


def merged_grid(grid: tuple[int, int], factor: int) -> tuple[int, int]:
    """Grid after merging ``factor x factor`` blocks; odd edges are padded up to a whole block."""
    return math.ceil(grid[0] / factor), math.ceil(grid[1] / factor)


def merge_blocks(features: torch.Tensor, grid: tuple[int, int], factor: int) -> torch.Tensor:
    """``[N, rows*cols, C]`` -> ``[N, ceil(rows/k)*ceil(cols/k), k*k*C]``, zero-padding ragged edges.

    Each output token concatenates its block's channels in row-major order within the block.
    """
    n, _, c = features.shape
    rows, cols = grid
    x = features.reshape(n, rows, cols, c)
    pad_r, pad_c = (-rows) % factor, (-cols) % factor
    if pad_r or pad_c:
        x = F.pad(x, (0, 0, 0, pad_c, 0, pad_r))
    out_r, out_c = (rows + pad_r) // factor, (cols + pad_c) // factor
    x = x.reshape(n, out_r, factor, out_c, factor, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, out_r * out_c, factor * factor * c)


class DownsampleProjector(Projector):
    """``[N, rows*cols, in_dim]`` -> ``[N, ceil(rows/k)*ceil(cols/k), out_dim]``.

    Each ``factor x factor`` block (default 2x2) is concatenated into one ``k*k*in_dim`` vector,
    layer-normed, then mapped by a ``depth``-layer GELU MLP. Needs a spatial token grid (an encoder
    with ``select_feature: patch``).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_input_tokens: int,
        grid: tuple[int, int] | None = None,
        factor: int = 2,
        depth: int = 2,
    ) -> None:
        if grid is None or grid[0] * grid[1] != num_input_tokens:
            raise ValueError(
                f"downsample projector needs the encoder's tokens as a spatial grid, got grid={grid} for "
                f"{num_input_tokens} tokens; use an encoder without a CLS token (select_feature: patch)"
            )
        if factor < 1:
            raise ValueError(f"downsample factor must be at least 1, got {factor}")
        super().__init__(in_dim, out_dim, num_input_tokens, grid)
        self.factor = factor
        merged = factor * factor * in_dim
        self.norm = nn.LayerNorm(merged)
        self.mlp = mlp_stack(merged, out_dim, depth)

    def output_tokens(self, num_tokens: int, grid: tuple[int, int] | None) -> int:
        if grid is None:
            raise ValueError("downsample projector: token count needs a grid (rows, cols)")
        rows, cols = merged_grid(grid, self.factor)
        return rows * cols

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.norm(merge_blocks(features, self.grid, self.factor)))
