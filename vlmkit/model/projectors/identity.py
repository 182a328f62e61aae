"""The identity projector: vision features are already LLM-width."""

from __future__ import annotations

import torch

from vlmkit.model.projectors.base import Projector


class IdentityProjector(Projector):
    """``[N, T, D]`` -> ``[N, T, D]``; requires ``in_dim == out_dim``."""

    def __init__(self, in_dim: int, out_dim: int, num_input_tokens: int, grid: tuple[int, int] | None = None) -> None:
        if in_dim != out_dim:
            raise ValueError(
                f"identity projector: encoder width {in_dim} != LLM width {out_dim}; use 'linear' or 'mlp' instead"
            )
        super().__init__(in_dim, out_dim, num_input_tokens, grid)

    def output_tokens(self, num_tokens: int, grid: tuple[int, int] | None) -> int:
        return num_tokens

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features
