"""Safe decoding of untrusted image bytes, shared by the converters (writing) and the reader.

Every check happens before pixels are decoded:

- zero-byte data and files over ``max_bytes`` are refused;
- the *declared* width x height is read from the header and refused above ``max_pixels``
  (a decompression bomb is never decoded, whatever ``PIL.Image.MAX_IMAGE_PIXELS`` is set to);
- JPEG/PNG data that stops before its end marker (EOI / IEND) is refused as truncated, even when
  ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` was switched on elsewhere in the process.

Problems raise :class:`ImageError`, whose ``reason`` is one of :data:`REASONS`.
Re-encode policy (:func:`prepare_image`): valid JPEG or PNG bytes are stored as they are; any other
format Pillow reads (GIF, WebP, BMP, TIFF, ...) is re-encoded as PNG (first frame).
"""

from __future__ import annotations

import io

from PIL import Image

MAX_PIXELS = 1 << 26  # 67M pixels, e.g. 8192 x 8192
MAX_BYTES = 64 << 20  # 64 MiB of encoded data
STORED_FORMATS = ("JPEG", "PNG")
PNG_MODES = ("1", "L", "LA", "RGB", "RGBA", "I;16")

REASONS = ("empty_image", "image_too_large", "decompression_bomb", "truncated_image", "undecodable_image")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8"


class ImageError(ValueError):
    """Image bytes that must not be used; ``reason`` names why (one of :data:`REASONS`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _structurally_truncated(data: bytes) -> bool:
    """True when JPEG/PNG data ends before its end marker (other formats: False, decoding decides)."""
    if data.startswith(_PNG_SIGNATURE):
        end = data.rfind(b"IEND")
        return end < 0 or end + 8 > len(data)  # the IEND chunk type is followed by its 4-byte CRC
    if data.startswith(_JPEG_SOI):
        # Entropy-coded data escapes 0xFF, so an EOI after the last scan header means the scan finished.
        last_scan = data.rfind(b"\xff\xda")
        return data.find(b"\xff\xd9", max(last_scan, 0)) < 0
    return False


def open_image(data: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> Image.Image:
    """Parse the header of ``data`` and check it; nothing is decoded yet.

    Raises :class:`ImageError` for empty, oversized, truncated, unreadable or bomb-sized images.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("undecodable_image", f"expected encoded image bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageError("empty_image", "zero bytes")
    if len(data) > max_bytes:
        raise ImageError("image_too_large", f"{len(data)} bytes exceeds the {max_bytes}-byte limit")
    data = bytes(data)
    if _structurally_truncated(data):
        raise ImageError("truncated_image", "the data ends before the image's end marker")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError("decompression_bomb", str(exc)) from None
    except Exception as exc:  # hostile bytes raise all sorts of errors inside Pillow
        raise ImageError("undecodable_image", f"{type(exc).__name__}: {exc}") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError("undecodable_image", f"declared size {width}x{height}")
    if width * height > max_pixels:
        raise ImageError("decompression_bomb", f"declared size {width}x{height} exceeds {max_pixels} pixels")
    return image


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except Exception as exc:
        raise ImageError("undecodable_image", f"{type(exc).__name__}: {exc}") from None


def decode_image(data: bytes, *, mode: str | None = "RGB", max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> Image.Image:
    """Fully decode ``data`` (checked as :func:`open_image` does) and convert to ``mode``.

    Returns a loaded ``PIL.Image`` of size (W, H); ``mode=None`` keeps the stored mode.
    """
    image = open_image(data, max_pixels=max_pixels, max_bytes=max_bytes)
    _load(image)
    if mode is not None and image.mode != mode:
        image = image.convert(mode)
    return image


def prepare_image(data: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes to store for ``data``: the original if it is a valid JPEG/PNG, else a PNG re-encoding."""
    image = open_image(data, max_pixels=max_pixels, max_bytes=max_bytes)
    fmt = image.format
    _load(image)
    if fmt in STORED_FORMATS:
        return bytes(data)
    if image.mode not in PNG_MODES:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
