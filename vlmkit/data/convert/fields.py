"""Field access for untrusted records: every problem becomes a :class:`SkipRecord` with a reason."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from vlmkit.data.convert.conversion_report import SkipRecord
from vlmkit.data.schema import IMAGE_MARKER


@dataclass
class Draft:
    """A parsed record: schema ``content`` for its kind, and its images not loaded yet.

    ``images`` holds image sources (see :mod:`vlmkit.data.convert.sources`) in the order the
    content refers to them.
    """

    id: str
    content: dict[str, Any]
    images: list[Any] = field(default_factory=list)


def as_record(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SkipRecord("not_an_object", f"got {type(raw).__name__}")
    return raw


def text(value: Any, name: str) -> str:
    """``value`` as a str that is valid UTF-8 (no lone surrogates)."""
    if not isinstance(value, str):
        raise SkipRecord("wrong_type", f"{name} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SkipRecord("bad_unicode", f"{name} holds characters that are not valid UTF-8") from None
    return value


def nonempty_text(value: Any, name: str) -> str:
    """:func:`text` that is not blank; surrounding white space is stripped."""
    value = text(value, name).strip()
    if not value:
        raise SkipRecord("empty_text", f"{name} is empty")
    return value


def no_markers(value: str, name: str) -> str:
    """Refuse text that would smuggle an image marker into a sample that has no image for it."""
    if IMAGE_MARKER in value:
        raise SkipRecord("marker_mismatch", f"{name} contains {IMAGE_MARKER} but no image belongs to it")
    return value


def first_key(record: dict[str, Any], keys: Sequence[str]) -> str:
    """The first of ``keys`` present (and not null) in ``record``."""
    for key in keys:
        if record.get(key) is not None:
            return key
    raise SkipRecord("missing_field", f"needs one of {', '.join(keys)}")


def integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SkipRecord("wrong_type", f"{name} must be an integer, got {type(value).__name__}")
    return value


def number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SkipRecord("wrong_type", f"{name} must be a finite number, got {value!r:.40}")
    return float(value)


def listing(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise SkipRecord("wrong_type", f"{name} must be a list, got {type(value).__name__}")
    return value


def record_id(record: dict[str, Any], fallback: str) -> str:
    """The record's own ``id`` when it is a usable string or integer, else ``fallback`` (file:line)."""
    value = record.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            pass
    return fallback
