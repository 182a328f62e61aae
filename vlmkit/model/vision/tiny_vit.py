"""A tiny random-init ViT for tests and CPU smoke runs (no weights, no downloads)."""

from __future__ import annotations

import torch
from torch import nn

from vlmkit.model.vision.base import VisionEncoder
from vlmkit.model.vision.transform import image_transform


class TinyViT(VisionEncoder):
    """Patchify -> learned positions -> pre-norm transformer blocks -> LayerNorm.

    ``[N, 3, S, S]`` -> ``[N, (S / patch)^2, width]``; tokens form a ``(S / patch)`` square grid
    (no CLS token).
    """

    def __init__(
        self, image_size: int = 32, patch_size: int = 8, width: int = 32, depth: int = 2, heads: int = 2, resize: str = "pad"
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"tiny_vit: image_size {image_size} is not a multiple of patch_size {patch_size}; pick sizes that divide")
        side = image_size // patch_size
        self.hidden_size = width
        self.grid = (side, side)
        self.num_tokens = side * side
        self.image_transform = image_transform(image_size, (0.5,) * 3, (0.5,) * 3, resize)
        self.patch = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)
        self.pos = nn.Parameter(torch.randn(1, self.num_tokens, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def layers(self) -> nn.ModuleList:
        return self.blocks.layers

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.patch(pixel_values.to(self.patch.weight.dtype)).flatten(2).transpose(1, 2)
        return self.norm(self.blocks(x + self.pos))


def tiny_vit(
    load_weights: bool = True, image_size: int = 32, patch_size: int = 8, width: int = 32, depth: int = 2, heads: int = 2, resize: str = "pad"
) -> TinyViT:
    """Registered factory; ``load_weights`` is ignored (random init either way)."""
    return TinyViT(image_size, patch_size, width, depth, heads, resize)
