"""One call from a checkpoint to an export folder (what ``vlmkit export`` runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


def export(checkpoint: str, out: str | os.PathLike, *, format: str = "vlmkit", recipe: str | None = None,
           stage: str | None = None, overrides: Iterable[str] = (), overwrite: bool = False) -> Path:
    """Export the trained model behind ``checkpoint`` (see :mod:`vlmkit.export.source`) to ``out``."""
    from vlmkit.export.llava_hf import export_llava_hf
    from vlmkit.export.source import load_trained, resolve
    from vlmkit.export.vlmkit_format import export_vlmkit

    writers = {"vlmkit": export_vlmkit, "llava-hf": export_llava_hf}
    if format not in writers:
        raise ValueError(f"unknown export format {format!r}; use one of: {', '.join(writers)}")
    if Path(out).exists() and not overwrite:
        raise ValueError(f"{out} already exists; choose another folder or pass --overwrite")
    weights = resolve(checkpoint, recipe, stage, overrides)
    model = load_trained(weights)
    source = {"recipe": weights.recipe_name, "weights": str(weights.path)}
    return writers[format](model, weights.model, out, overwrite=overwrite, source=source)
