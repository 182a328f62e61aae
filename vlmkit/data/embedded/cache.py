"""Where embedded data is built (``$VLMKIT_CACHE``, :func:`vlmkit.storage.cache.cache_root`) and
how: once, atomically (:func:`vlmkit.storage.cache.build_once`). A dataset folder counts as
built when its MDS ``index.json`` is there."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vlmkit.storage.cache import CACHE_ENV, DEFAULT_CACHE, build_once as _build_once, cache_root  # noqa: F401 (its root)

INDEX_FILE = "index.json"


def is_built(target: Path) -> bool:
    return (target / INDEX_FILE).is_file()


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Run ``build(tmp_folder)`` unless ``target`` is already built, then move the result to ``target``."""
    return _build_once(target, build, complete=is_built)
