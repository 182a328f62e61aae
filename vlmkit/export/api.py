"""One call from a checkpoint to an export folder (what ``vlmkit export`` runs).

Export formats are a registry kind (``registry.export_formats``; built-ins ``vlmkit`` and
``llava-hf`` in :mod:`vlmkit.export.builtins`). A format's factory is the writer, called as
``writer(model, model_config, out, overwrite=..., source=...)``: the trained
``VisionLanguageModel`` (CPU, fp32), the recipe's ``ModelConfig``, the folder to write, whether an
existing ``out`` may be replaced and ``{"recipe": ..., "weights": ...}`` naming where it came from;
it writes the folder and returns its ``Path``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from vlmkit.registry import registries


def export(checkpoint: str, out: str | os.PathLike, *, format: str = "vlmkit", recipe: str | None = None,
           stage: str | None = None, overrides: Iterable[str] = (), overwrite: bool = False) -> Path:
    """Export the trained model behind ``checkpoint`` (see :mod:`vlmkit.export.source`) to ``out``
    in the registered export ``format``."""
    from vlmkit.export.source import load_trained, resolve

    formats = registries().export_formats
    if format not in formats:
        raise ValueError(formats.unknown_message(format))
    if Path(out).exists() and not overwrite:
        raise ValueError(f"{out} already exists; choose another folder or pass --overwrite")
    writer = formats.get(format)
    weights = resolve(checkpoint, recipe, stage, overrides)
    model = load_trained(weights)
    source = {"recipe": weights.recipe_name, "weights": str(weights.path)}
    return writer(model, weights.model, out, overwrite=overwrite, source=source)
