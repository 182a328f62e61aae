"""The vision-encoder interface and the picklable image transform that feeds it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import torch
from torch import nn

from vlmkit.model.layers import repeated_layers


@dataclass(frozen=True)
class ImageTransform:
    """PIL image -> float tensor ``[3, size, size]``, normalised with ``mean``/``std``.

    Fields: ``size`` (output side ``S`` in pixels), ``mean`` and ``std`` (per-channel RGB in
    ``[0, 1]``: ``out = (pixel / 255 - mean) / std``), ``resize``: ``"pad"`` pads to a square with
    the mean colour before resizing (VILA/LLaVA's ``image_aspect_ratio: pad``), ``"squash"``
    resizes straight to ``size x size``. Small and picklable, so DataLoader workers carry it
    without the model; :func:`vlmkit.model.vision.transform.image_transform` builds one from
    recipe options with checks.
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

        if image.mode != "RGB":
            image = image.convert("RGB")
        w, h = image.size
        fill = tuple(int(round(m * 255)) for m in self.mean)
        # expand2square (LLaVA/VILA): pad to a mean-colour square, then resize; a square already
        # at the output size gets its padding written straight into the tensor below
        pad = self.resize == "pad" and w != h
        if pad and max(w, h) != self.size:
            side = max(w, h)
            canvas = Image.new("RGB", (side, side), fill)
            canvas.paste(image, ((side - w) // 2, (side - h) // 2))
            image, pad = canvas, False
        if not pad and image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.BICUBIC)
        # uint8 HWC -> float CHW in one copy, then x / (255 std) - mean / std in place (float32,
        # the same two roundings as ever, so the values are bit for bit those of the old path)
        scale, offset = _affine(tuple(self.mean), tuple(self.std))
        out = torch.empty(3, self.size, self.size, dtype=torch.float32)
        pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)
        if pad:
            out.copy_(torch.tensor(fill, dtype=torch.float32).view(3, 1, 1).expand_as(out))
            top, left = (self.size - h) // 2, (self.size - w) // 2
            out[:, top : top + h, left : left + w].copy_(pixels)
        else:
            out.copy_(pixels)
        return out.mul_(scale).sub_(offset)


@lru_cache(maxsize=64)
def _affine(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(1 / (255 std), mean / std)`` as ``[3, 1, 1]`` float32 tensors."""
    std_t = torch.tensor(std, dtype=torch.float32)
    return (1.0 / (255.0 * std_t)).view(3, 1, 1), (torch.tensor(mean, dtype=torch.float32) / std_t).view(3, 1, 1)


class VisionEncoder(nn.Module, ABC):
    """Images to a sequence of feature tokens.

    ``forward(pixel_values)``: ``[N, 3, S, S]`` -> ``[N, num_tokens, hidden_size]``.

    ``VisionEncoder.__init__()`` takes no arguments: a subclass calls ``super().__init__()``
    first, then assigns these four attributes in its own ``__init__`` (plain attributes, not
    properties; vlmkit reads them before any forward pass to size the projector):

    - ``hidden_size`` (int): width ``C`` of each output token.
    - ``num_tokens`` (int): tokens ``T`` per image.
    - ``grid`` (``(rows, cols)`` tuple or ``None``): the spatial layout of those tokens when they
      form a grid (``rows * cols == num_tokens``), else ``None`` (e.g. when a CLS token is kept).
    - ``image_transform``: turns one PIL image (any size or mode) into the ``[3, S, S]`` float
      tensor ``forward`` expects; usually an :class:`ImageTransform`. It must pickle (DataLoader
      workers carry it), so use a dataclass or a module-level class, not a lambda or closure.
    """

    hidden_size: int
    num_tokens: int
    grid: tuple[int, int] | None
    image_transform: ImageTransform

    def layers(self) -> nn.ModuleList:
        """The repeated blocks in order (FSDP2 units, activation checkpointing, compilation, the
        activation memory ``vlmkit plan`` counts); by default the longest ``ModuleList`` of
        same-class modules inside the encoder, empty when there is none."""
        return repeated_layers(self)

    @abstractmethod
    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` -> ``[N, num_tokens, hidden_size]``."""
