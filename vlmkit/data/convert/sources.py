"""Where a record's images come from: a file under the image root, inline bytes, or base64 text.

A source is resolved while parsing (cheap, no I/O) and read later, possibly in a worker thread.
A name that leaves the image root (``../x``, an absolute path elsewhere) is refused as
``unsafe_path`` while parsing; when the file is read, its fully resolved path (every symlink
followed) must still lie inside the resolved root, so a symlink under the root that points
elsewhere (``/etc/passwd``, ``/proc/self/environ``) is refused as ``unsafe_path`` too, unopened.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from vlmkit.data.convert.conversion_report import SkipRecord
from vlmkit.data.images import MAX_BYTES, ImageError, PreparedImage, prepare


class ImageSource(Protocol):
    def read(self) -> bytes:
        """The encoded bytes; raises :class:`SkipRecord` when they cannot be had."""
        ...


def inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


@dataclass(frozen=True)
class FileImage:
    """``path`` (lexically under the image root); read only if it resolves inside ``real_root``
    (the root with every symlink resolved)."""

    path: Path
    real_root: str

    def read(self) -> bytes:
        real = os.path.realpath(self.path)
        if not inside(real, self.real_root):
            raise SkipRecord("unsafe_path", f"{self.path} resolves to {real}, outside the image root {self.real_root}")
        try:
            info = os.stat(real)
            if not stat.S_ISREG(info.st_mode):  # never open a FIFO or device
                raise SkipRecord("missing_image", f"{self.path} is not a file")
            if info.st_size > MAX_BYTES:
                raise ImageError("image_too_large", f"{self.path} has {info.st_size} bytes, over {MAX_BYTES}")
            with open(real, "rb") as f:
                return f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise SkipRecord("missing_image", f"{self.path} does not exist") from None
        except OSError as exc:
            raise SkipRecord("unreadable_image", f"{self.path}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class InlineImage:
    data: bytes

    def read(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class Base64Image:
    text: str

    def read(self) -> bytes:
        payload = self.text.partition("base64,")[2] if self.text.startswith("data:") else self.text
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SkipRecord("bad_base64", str(exc)) from None


def load_image(source: ImageSource, max_side: int | None = None) -> PreparedImage:
    """Read ``source`` and return the bytes to store (validated; re-encoded unless JPEG/PNG within
    ``max_side``) and whether they were downscaled."""
    return prepare(source.read(), max_side=max_side)


class ImageResolver:
    """Turns the image references found in records into :class:`ImageSource` objects."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(os.path.abspath(root))
        self.real_root = os.path.realpath(root)

    def file(self, name: Any, field: str = "image") -> FileImage:
        """``name`` relative to the root (an absolute path must lie inside the root)."""
        if not isinstance(name, str):
            raise SkipRecord("wrong_type", f"{field} must be a file name, got {type(name).__name__}")
        if not name or "\x00" in name:
            raise SkipRecord("missing_field", f"{field} is an empty or invalid file name")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise SkipRecord("bad_unicode", f"{field} holds characters that are not valid UTF-8") from None
        path = os.path.normpath(os.path.join(self.root, name))
        if not inside(path, str(self.root)):
            raise SkipRecord("unsafe_path", f"{name!r} is outside the image root {self.root}")
        return FileImage(Path(path), self.real_root)

    def url(self, url: Any, field: str = "url") -> FileImage:
        """A downloaded image kept under the root by the last component of its URL's path."""
        if not isinstance(url, str):
            raise SkipRecord("wrong_type", f"{field} must be a string, got {type(url).__name__}")
        name = os.path.basename(unquote(urlparse(url).path))
        if not name:
            raise SkipRecord("missing_image", f"{field} {url!r:.80} names no file")
        return self.file(name, field)

    def source(self, value: Any, field: str = "image") -> ImageSource:
        """A file name, raw bytes, or a ``{"bytes": ..., "path": ...}`` mapping (Hugging Face style)."""
        if isinstance(value, (bytes, bytearray)):
            return InlineImage(bytes(value))
        if isinstance(value, dict):
            if isinstance(value.get("bytes"), (bytes, bytearray)):
                return InlineImage(bytes(value["bytes"]))
            return self.file(value.get("path"), f"{field}.path")
        return self.file(value, field)
