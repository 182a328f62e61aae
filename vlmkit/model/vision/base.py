"""The vision-encoder interface and the picklable image transform that feeds it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn


@dataclass(frozen=True)
class ImageTransform:
    """PIL image -> float tensor ``[3, size, size]``, normalised with ``mean``/``std``.

    ``resize="pad"`` pads to a square with the mean colour before resizing (VILA/LLaVA's
    ``image_aspect_ratio: pad``); ``"squash"`` resizes straight to ``size x size``.
    Small and picklable, so DataLoader workers carry it without the model.
    """

    size: int
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    resize: Literal["pad", "squash"] = "pad"

    def __post_init__(self) -> None:
        if self.resize not in ("pad", "squash"):
            raise ValueError(f"image resize {self.resize!r} is unknown; use 'pad' (pad to square) or 'squash'")

    def __call__(self, image) -> torch.Tensor:
        import numpy as np
        from PIL import Image

        image = image.convert("RGB")
        w, h = image.size
        if self.resize == "pad" and w != h:
            # pad to a mean-colour square first, then resize: LLaVA/VILA's expand2square order
            side = max(w, h)
            canvas = Image.new("RGB", (side, side), tuple(int(round(m * 255)) for m in self.mean))
            canvas.paste(image, ((side - w) // 2, (side - h) // 2))
            image = canvas
        if image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.BICUBIC)
        x = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)
        return x.float().mul_(self._scale).sub_(self._offset)

    @property
    def _scale(self) -> torch.Tensor:
        return (1.0 / (255.0 * torch.tensor(self.std))).view(3, 1, 1)

    @property
    def _offset(self) -> torch.Tensor:
        return (torch.tensor(self.mean) / torch.tensor(self.std)).view(3, 1, 1)


class VisionEncoder(nn.Module, ABC):
    """Images to a sequence of feature tokens.

    ``forward(pixel_values)``: ``[N, 3, H, W]`` -> ``[N, num_tokens, hidden_size]``.
    ``grid`` is the ``(rows, cols)`` layout of those tokens when they form a spatial grid
    (``rows * cols == num_tokens``), else ``None`` (e.g. when a CLS token is kept).
    ``image_transform`` turns one PIL image into the ``[3, H, W]`` tensor ``forward`` expects.
    """

    hidden_size: int
    num_tokens: int
    grid: tuple[int, int] | None
    image_transform: ImageTransform

    @abstractmethod
    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` -> ``[N, num_tokens, hidden_size]``."""
