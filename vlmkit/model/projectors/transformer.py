"""``transformer``: Linear to ``width``, a few transformer blocks over the image tokens, Linear out."""

from __future__ import annotations

import torch
from torch import nn

from vlmkit.model.projectors.attention import check_heads, default_heads
from vlmkit.model.projectors.base import Projector


class TransformerProjector(Projector):
    """``[N, T, in_dim]`` -> ``[N, T, out_dim]``: the paper's transformer-block projector ablation.

    Image tokens attend to each other bidirectionally in ``depth`` pre-norm blocks of width
    ``width`` (default ``out_dim``; ``heads`` default one per 64 channels).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_input_tokens: int,
        grid: tuple[int, int] | None = None,
        depth: int = 1,
        width: int | None = None,
        heads: int | None = None,
        mlp_ratio: int = 4,
    ) -> None:
        super().__init__(in_dim, out_dim, num_input_tokens, grid)
        width = width or out_dim
        heads = heads or default_heads(width)
        check_heads(width, heads, "transformer projector")
        self.proj_in = nn.Linear(in_dim, width)
        layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=mlp_ratio * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.proj_out = nn.Identity() if width == out_dim else nn.Linear(width, out_dim)

    def output_tokens(self, num_tokens: int, grid: tuple[int, int] | None) -> int:
        return num_tokens

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj_out(self.norm(self.blocks(self.proj_in(features))))
