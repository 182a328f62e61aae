"""Opening task images (paths, bytes, PIL images or lazy callables) with the data pipeline's checks."""

from __future__ import annotations

import os
from pathlib import Path

from vlmkit.data.images import ImageError, decode_image

__all__ = ["ImageError", "load_image", "source_key"]


def source_key(source) -> object:
    """A cache key for an image source: the path or bytes themselves, else the object's identity."""
    return source if isinstance(source, (str, bytes)) else id(source)


def load_image(source):
    """An RGB ``PIL.Image`` from an :data:`~vlmkit.eval.tasks.base.ImageSource`.

    Raises :class:`ImageError` (a ``ValueError``) for unreadable data and ``FileNotFoundError`` for
    a missing file; the harness counts such examples as skipped.
    """
    from PIL import Image

    if callable(source) and not isinstance(source, Image.Image):
        source = source()
    if isinstance(source, Image.Image):
        return source.convert("RGB")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"image {path} does not exist")
        return decode_image(path.read_bytes())
    raise ImageError("undecodable_image", f"cannot open an image from a {type(source).__name__}")
