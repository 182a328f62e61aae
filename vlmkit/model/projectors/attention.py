"""Attention building blocks shared by the resampler and transformer projectors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def check_heads(width: int, heads: int, who: str) -> None:
    if heads < 1 or width % heads:
        raise ValueError(f"{who}: width {width} is not divisible by heads {heads}; pick heads that divide the width")


def default_heads(width: int) -> int:
    """One head per 64 channels when that divides evenly, else a single head."""
    return width // 64 if width >= 64 and width % 64 == 0 else 1


class FeedForward(nn.Sequential):
    """Pre-norm MLP ``[..., dim]`` -> ``[..., dim]`` with a ``mult`` x wider GELU hidden layer."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__(nn.LayerNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))


class CrossAttention(nn.Module):
    """Latents ``[N, Q, D]`` attend to ``context [N, T, D]`` (pre-normed both sides) -> ``[N, Q, D]``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        check_heads(dim, heads, "cross-attention")
        self.heads = heads
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        return x.view(n, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, latents: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q_in = self.norm_q(latents)
        kv_in = torch.cat([self.norm_kv(context), q_in], dim=1)  # latents also attend to themselves
        k, v = self.to_kv(kv_in).chunk(2, dim=-1)
        attn = F.scaled_dot_product_attention(self._split(self.to_q(q_in)), self._split(k), self._split(v))
        return self.out(attn.transpose(1, 2).flatten(2))
