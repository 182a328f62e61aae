"""Dotted key paths (``"model.vision_encoder.image_size"``) into nested recipe mappings."""

from __future__ import annotations

import copy
from typing import Any

MISSING = object()


def get_path(data: dict, path: str, default: Any = MISSING) -> Any:
    """The value at ``path``, or ``default`` when some key on the way is absent."""
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def set_path(data: dict, path: str, value: Any) -> None:
    """Set ``path`` to a copy of ``value``, creating mappings on the way; ``value=None`` deletes it."""
    *parents, last = path.split(".")
    node = data
    for i, key in enumerate(parents):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ValueError(f"{'.'.join(parents[: i + 1])} is a value, not a section, so {path} cannot be set")
        node = child
    if value is None:
        node.pop(last, None)
    else:
        node[last] = copy.deepcopy(value)
