"""The projector interface: vision features to LLM-width image tokens."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class Projector(nn.Module, ABC):
    """Maps ``[N, T_in, in_dim]`` vision features to ``[N, T_out, out_dim]`` LLM tokens.

    Built with the encoder's width, the LLM's width, the encoder's token count and its token grid
    (``(rows, cols)`` or ``None``); ``__init__`` stores them as ``in_dim``, ``out_dim``,
    ``num_input_tokens`` and ``grid`` (always a tuple or ``None``, also when rebuilt from an
    export's JSON). ``output_tokens(num_tokens, grid)`` says how many tokens come out for a given
    input, so sequence lengths can be planned before any forward pass; ``num_output_tokens`` is
    that count for the built input (the length of one image's placeholder run). ``vlmkit check``
    runs ``[1, num_input_tokens, in_dim]`` through ``forward`` on the meta device and refuses a
    projector whose output is not ``[1, num_output_tokens, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, num_input_tokens: int, grid: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.num_input_tokens = num_input_tokens
        self.grid = None if grid is None else (int(grid[0]), int(grid[1]))

    @abstractmethod
    def output_tokens(self, num_tokens: int, grid: tuple[int, int] | None) -> int:
        """Tokens produced for an input of ``num_tokens`` tokens laid out as ``grid``."""

    @property
    def num_output_tokens(self) -> int:
        """Tokens produced per image for the input this projector was built for."""
        return self.output_tokens(self.num_input_tokens, self.grid)

    @abstractmethod
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, num_input_tokens, in_dim]`` -> ``[N, num_output_tokens, out_dim]``."""
