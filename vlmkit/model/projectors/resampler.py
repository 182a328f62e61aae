"""``resampler``: a Perceiver resampler (OpenFlamingo style) with a fixed number of learned latents."""

from __future__ import annotations

import torch
from torch import nn

from vlmkit.model.projectors.attention import CrossAttention, FeedForward, check_heads
from vlmkit.model.projectors.base import Projector


class ResamplerProjector(Projector):
    """``[N, T, in_dim]`` -> ``[N, num_latents, out_dim]`` for any ``T``.

    Features are mapped to ``width`` (default ``in_dim``); ``depth`` blocks of (latents cross-attend
    to features+latents, then feed-forward), both residual; a final LayerNorm and a Linear to
    ``out_dim``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_input_tokens: int,
        grid: tuple[int, int] | None = None,
        num_latents: int = 64,
        depth: int = 2,
        heads: int = 8,
        width: int | None = None,
    ) -> None:
        super().__init__(in_dim, out_dim, num_input_tokens, grid)
        width = width or in_dim
        check_heads(width, heads, "resampler projector")
        if num_latents < 1:
            raise ValueError(f"resampler projector: num_latents must be at least 1, got {num_latents}")
        self.num_latents = num_latents
        self.proj_in = nn.Identity() if width == in_dim else nn.Linear(in_dim, width)
        self.latents = nn.Parameter(torch.randn(num_latents, width) * width**-0.5)
        self.attn = nn.ModuleList(CrossAttention(width, heads) for _ in range(depth))
        self.ff = nn.ModuleList(FeedForward(width) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.proj_out = nn.Linear(width, out_dim)

    def output_tokens(self, num_tokens: int, grid: tuple[int, int] | None) -> int:
        return self.num_latents

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        context = self.proj_in(features)
        x = self.latents.unsqueeze(0).expand(features.shape[0], -1, -1).to(context.dtype)
        for attn, ff in zip(self.attn, self.ff):
            x = x + attn(x, context)
            x = x + ff(x)
        return self.proj_out(self.norm(x))
