"""Exporting trained models (``vlmkit export``) and loading exported folders.

- :func:`from_pretrained`: a folder in the ``vlmkit`` format or a llava-hf folder
  (:mod:`vlmkit.export.loading`); :func:`load_export`: a ``vlmkit``-format folder with its config.
- :func:`export`: checkpoint (recipe + run_dir, stage folder, Composer ``.pt``) -> export folder.
- :mod:`vlmkit.export.llava_hf`: the transformers ``LlavaForConditionalGeneration`` format;
  :mod:`vlmkit.export.llava_import` reads it back.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "from_pretrained": "vlmkit.export.loading",
    "load_export": "vlmkit.export.vlmkit_format",
    "read_config": "vlmkit.export.vlmkit_format",
    "export": "vlmkit.export.api",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vlmkit.export' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
