"""A small convolutional vision encoder whose feature map is the token grid.

It is here as the template's vision encoder (a real plugin would wrap a pretrained network the
same way): a patchifying convolution, residual 3x3 blocks at that resolution, and the cells of
the final map read out as tokens, row by row. Its tokens form a grid, which is what the
C-Abstractor needs.
"""

from __future__ import annotations

import torch
from torch import nn

from vlmkit import ImageTransform, VisionEncoder
from vlmkit_cabstractor.cabstractor import LayerNorm2d


# --8<-- [start:encoder]
class ConvGridEncoder(VisionEncoder):
    """``[N, 3, image_size, image_size]`` -> ``[N, (image_size / patch_size)^2, width]``.

    Options (recipe keys under ``model.vision_encoder``): ``image_size`` (pixels; default 32),
    ``patch_size`` (the stem's stride; must divide ``image_size``; default 4), ``width``
    (channels = token width; default 32), ``depth`` (residual blocks; default 2).
    """

    def __init__(self, image_size: int = 32, patch_size: int = 4, width: int = 32, depth: int = 2) -> None:
        super().__init__()  # VisionEncoder.__init__ takes no arguments
        if patch_size < 1 or image_size % patch_size:
            raise ValueError(f"cabs_conv_encoder: patch_size {patch_size} must divide image_size {image_size}")
        if width < 1 or depth < 0:
            raise ValueError(f"cabs_conv_encoder: width must be >= 1 and depth >= 0, got width={width}, depth={depth}")
        side = image_size // patch_size
        # The contract: four attributes, set here, read by vlmkit before any forward pass.
        self.hidden_size = width  # C: width of each token
        self.num_tokens = side * side  # T: tokens per image
        self.grid = (side, side)  # their (rows, cols) layout, or None when they form no grid
        self.image_transform = ImageTransform(size=image_size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), resize="pad")
        self.stem = nn.Sequential(nn.Conv2d(3, width, patch_size, stride=patch_size), LayerNorm2d(width))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 3, padding=1), LayerNorm2d(width), nn.GELU()) for _ in range(depth)
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.stem(pixel_values.to(self.stem[0].weight.dtype))  # [N, C, side, side]
        for block in self.blocks:
            x = x + block(x)
        return x.flatten(2).transpose(1, 2)  # [N, side * side, C], row-major like self.grid


def conv_encoder(
    load_weights: bool = True, weights: str | None = None, image_size: int = 32, patch_size: int = 4, width: int = 32, depth: int = 2
) -> ConvGridEncoder:
    """The registered factory. vlmkit calls it as ``factory(load_weights=bool, **options)``:
    ``load_weights=False`` (planning, ``vlmkit check``, conformance tests) must build the
    architecture without reading any file; with ``load_weights=True`` the ``weights`` option, a
    safetensors file, is loaded (no file: random init). Options are named parameters, not
    ``**options``, so ``vlmkit check`` can name a misspelled one and its closest match."""
    encoder = ConvGridEncoder(image_size, patch_size, width, depth)
    if load_weights and weights is not None:
        from safetensors.torch import load_file

        encoder.load_state_dict(load_file(weights))
    return encoder
# --8<-- [end:encoder]
