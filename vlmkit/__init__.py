"""vlmkit: build and train visual language models the way VILA does, with every part a plugin.

``import vlmkit`` is light (no torch): heavy names below load on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from vlmkit.registry import hookimpl, hookspec, registries

__version__ = "0.1.0"

_LAZY = {
    "build_vlm": "vlmkit.model.vlm",
    "VisionLanguageModel": "vlmkit.model.vlm",
    "VisionEncoder": "vlmkit.model.vision.base",
    "ImageTransform": "vlmkit.model.vision.base",
    "Projector": "vlmkit.model.projectors.base",
    "LLMBackbone": "vlmkit.model.llm.base",
    "DataMixer": "vlmkit.data.mixers.base",
    "load_recipe": "vlmkit.config",
    "Recipe": "vlmkit.config",
    "RecipeError": "vlmkit.config",
    "from_pretrained": "vlmkit.export.loading",
}

__all__ = ["__version__", "hookimpl", "hookspec", "registries", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vlmkit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
