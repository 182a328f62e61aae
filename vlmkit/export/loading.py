"""``vlmkit.from_pretrained(PATH)``: a model from a vlmkit export or a llava-hf folder.

The folder's ``config.json`` says which it is (``format: vlmkit`` or ``model_type: llava``); the
reader is looked up in :data:`READERS` by that name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from vlmkit.model.vlm import VisionLanguageModel


def _vlmkit(path: Path) -> "VisionLanguageModel":
    from vlmkit.export.vlmkit_format import from_pretrained

    return from_pretrained(path)


def _llava(path: Path) -> "VisionLanguageModel":
    from vlmkit.export.llava_import import from_pretrained

    return from_pretrained(path)


READERS: dict[str, Callable[[Path], Any]] = {"vlmkit": _vlmkit, "llava": _llava}


def folder_format(path: Path) -> str:
    """``"vlmkit"`` or ``"llava"`` from ``path/config.json``; an error for anything else."""
    config = path / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{path} is not a model folder: config.json is missing (write one with `vlmkit export`)")
    data = json.loads(config.read_text())
    kind = data.get("format") or data.get("model_type")
    if kind not in READERS:
        raise ValueError(f"{config}: {kind!r} is neither a vlmkit export nor a llava-hf folder (model_type 'llava'); vlmkit reads: {', '.join(READERS)}")
    return kind


def from_pretrained(path: str | os.PathLike) -> "VisionLanguageModel":
    """A :class:`~vlmkit.model.vlm.VisionLanguageModel` (eval mode, CPU) from ``vlmkit export OUT``
    (either format) or any llava-hf folder; ``model.chat_template`` names the chat template to
    prompt it with."""
    folder = Path(path)
    return READERS[folder_format(folder)](folder)
