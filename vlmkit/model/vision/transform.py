"""Checked construction of an :class:`ImageTransform` from an encoder's options."""

from __future__ import annotations

from vlmkit.model.vision.base import ImageTransform

RESIZE_MODES = ("pad", "squash")
ALIASES = {"resize": "squash"}  # VILA's --image_aspect_ratio resize


def image_transform(size: int, mean: tuple, std: tuple, resize: str) -> ImageTransform:
    """``ImageTransform(size, mean, std, resize)`` after checking ``resize`` and ``size``."""
    resize = ALIASES.get(resize, resize)
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be 'pad' (keep aspect, pad with the mean colour) or 'squash' (stretch; alias 'resize'), got {resize!r}")
    if size < 1:
        raise ValueError(f"image_size must be a positive number of pixels, got {size}")
    return ImageTransform(int(size), tuple(float(m) for m in mean), tuple(float(s) for s in std), resize)  # type: ignore[arg-type]
