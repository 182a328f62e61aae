"""Safe decoding of untrusted image bytes, shared by the converters (writing) and the reader.

Every check happens before pixels are decoded:

- zero-byte data and files over ``max_bytes`` are refused;
- the *declared* width x height is read from the header and refused above ``max_pixels``
  (a decompression bomb is never decoded, whatever ``PIL.Image.MAX_IMAGE_PIXELS`` is set to);
- JPEG/PNG data that stops before its end marker (EOI / IEND) is refused as truncated, even when
  ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` was switched on elsewhere in the process.

Problems raise :class:`ImageError`, whose ``reason`` is one of :data:`REASONS`.
Re-encode policy (:func:`prepare_image`): valid JPEG or PNG bytes are stored as they are; any other
format Pillow reads (GIF, WebP, BMP, TIFF, ...) is re-encoded as PNG (first frame). With
``max_side``, an image whose longer side exceeds it is downscaled (aspect kept, Lanczos) and
re-encoded: JPEG stays JPEG (quality 95), everything else becomes PNG (alpha kept).
"""

from __future__ import annotations

import io
from typing import NamedTuple

from PIL import Image

MAX_PIXELS = 1 << 26  # 67M pixels, e.g. 8192 x 8192
MAX_BYTES = 64 << 20  # 64 MiB of encoded data
STORED_FORMATS = ("JPEG", "PNG")
JPEG_FORMATS = ("JPEG", "MPO")  # MPO: a camera JPEG with extra frames; downscaled, it stays JPEG
PNG_MODES = ("1", "L", "LA", "RGB", "RGBA", "I;16")
RESAMPLE_PNG_MODES = ("L", "LA", "RGB", "RGBA", "I;16")  # PNG modes Pillow resamples with Lanczos
JPEG_QUALITY = 95

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


class PreparedImage(NamedTuple):
    """What :func:`prepare` decided: the bytes to store and whether they were downscaled."""

    data: bytes
    downscaled: bool


def scaled_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(W, H) with the longer side ``max_side`` and the aspect ratio kept (each side at least 1)."""
    width, height = size
    scale = max_side / max(width, height)
    return (max_side, max(1, round(height * scale))) if width >= height else (max(1, round(width * scale)), max_side)


def _png_ready(image: Image.Image, resample: bool) -> Image.Image:
    """``image`` in a mode PNG stores; when it is to be resampled, also one Lanczos works on
    (palette and 1-bit images would fall back to nearest neighbour, a tRNS key would smear)."""
    allowed = RESAMPLE_PNG_MODES if resample else PNG_MODES
    if image.mode in allowed and not (resample and "transparency" in image.info):
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode(image: Image.Image, fmt: str, info: dict) -> bytes:
    """``image`` as JPEG (quality :data:`JPEG_QUALITY`) or PNG, keeping ``info``'s ICC profile and EXIF."""
    options = {k: info[k] for k in ("icc_profile", "exif") if info.get(k)}
    if fmt == "JPEG":
        options["quality"] = JPEG_QUALITY
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def encode_png(image: Image.Image) -> bytes:
    """``image`` as PNG bytes."""
    return _encode(image, "PNG", {})


def prepare(data: bytes, *, max_side: int | None = None, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> PreparedImage:
    """Check ``data`` (as :func:`open_image` does, then decode it) and choose the bytes to store.

    Valid JPEG/PNG within ``max_side`` (or with ``max_side=None``) are kept byte for byte; other
    formats become PNG. A longer side over ``max_side`` is downscaled to exactly ``max_side``.
    """
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    image = open_image(data, max_pixels=max_pixels, max_bytes=max_bytes)
    fmt, info = image.format, dict(image.info)
    target = scaled_size(image.size, max_side) if max_side and max(image.size) > max_side else None
    if target and fmt in JPEG_FORMATS:
        image.draft(None, (2 * target[0], 2 * target[1]))  # decode at 1/2-1/8 scale, still >= 2x the target
    _load(image)
    if target is None:
        if fmt in STORED_FORMATS:
            return PreparedImage(bytes(data), False)
        return PreparedImage(encode_png(_png_ready(image, resample=False)), False)
    if fmt in JPEG_FORMATS:
        fmt = "JPEG"
    else:
        image, fmt = _png_ready(image, resample=True), "PNG"
    image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return PreparedImage(_encode(image, fmt, info), True)


def prepare_image(data: bytes, *, max_side: int | None = None, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes to store for ``data``: the original if it is a valid JPEG/PNG within ``max_side``,
    else a re-encoding (see :func:`prepare`)."""
    return prepare(data, max_side=max_side, max_pixels=max_pixels, max_bytes=max_bytes).data
