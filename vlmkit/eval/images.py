"""Task images: opening them (paths, bytes, PIL images or lazy callables) with the data pipeline's
checks, and caching their pixels (:class:`ImageCache`) and encoded features (:class:`FeatureCache`)
within one evaluation, where many questions share an image."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import torch

from vlmkit.data.images import ImageError, decode_image

__all__ = ["FeatureCache", "ImageCache", "ImageError", "load_image", "source_key"]


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


class _LRU:
    """The most recently used values of a mapping, within ``limit`` (a count, or bytes with ``size``)."""

    def __init__(self, limit: int, size=lambda value: 1) -> None:
        self.limit, self.size, self.used = limit, size, 0
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key, value) -> None:
        self._items[key] = value
        self.used += self.size(value)
        while self.used > self.limit and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self.used -= self.size(old)


class ImageCache:
    """Opens and transforms image sources (``[3, H, W]`` tensors), keeping the most recent ``size``."""

    def __init__(self, transform, size: int = 512) -> None:
        self.transform = transform
        self._cache = _LRU(size)

    def __call__(self, source) -> torch.Tensor:
        key = source_key(source)
        tensor = self._cache.get(key)
        if tensor is None:
            tensor = self.transform(load_image(source))
            self._cache.put(key, tensor)
        return tensor


class FeatureCache:
    """Each distinct image encoded once: ``features(sources, pixels)`` -> one ``[K, D]`` tensor
    (``model.encode_images`` rows) per source, where ``pixels[i]`` is ``sources[i]``'s ``[3, H, W]``
    tensor; the images not seen before are encoded together in one batch. The most recent
    ``budget_bytes`` of features are kept (easy-VQA asks about ten questions per image)."""

    def __init__(self, model, budget_bytes: int = 256 << 20) -> None:
        self.model = model
        self._cache = _LRU(budget_bytes, size=lambda t: t.numel() * t.element_size())

    def __call__(self, sources: Sequence, pixels: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        found, missing = {}, {}
        for src, tensor in zip(sources, pixels, strict=True):
            key = source_key(src)
            if key in found or key in missing:
                continue
            cached = self._cache.get(key)
            if cached is None:
                missing[key] = tensor
            else:
                found[key] = cached
        if missing:
            p = next(self.model.parameters())
            with torch.no_grad():
                encoded = self.model.encode_images(torch.stack(list(missing.values())).to(device=p.device, dtype=p.dtype))
            for key, row in zip(missing, encoded):
                found[key] = row
                self._cache.put(key, row)
        return [found[source_key(s)] for s in sources]
