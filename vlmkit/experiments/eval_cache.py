"""Evaluation results shared by every run folder: ``<cache_root>/evals/<key>.json``.

Used for the untrained model only (``vlmkit demo``'s "before" scores), whose weights are the same in
every run of a recipe on the same software. ``<key>`` is a sha256 of the task's record
(:func:`vlmkit.experiments.runs.task_record`: task, options, seed, ..., and the weights'
fingerprint); a file is served only when the record stored inside it is the same, so a hash
collision or a damaged file means evaluating again, never a wrong score. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from vlmkit.storage.atomic import write_text_atomic
from vlmkit.storage.cache import cache_root

FOLDER = "evals"


def cache_file(record: dict[str, Any]) -> Path:
    """Where the result of ``record`` is cached."""
    body = json.dumps(record, sort_keys=True, default=str)
    return cache_root() / FOLDER / f"{hashlib.sha256(body.encode()).hexdigest()[:32]}.json"


def restore(record: dict[str, Any], dest: Path) -> Path | None:
    """Copy the cached result of ``record`` to ``dest`` (atomically); returns the cache file, or
    ``None`` (nothing copied) when there is none, it is damaged or it holds another record."""
    src = cache_file(record)
    try:
        text = src.read_text(encoding="utf-8")
        saved = json.loads(text)
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    expected = json.loads(json.dumps(record, default=str))  # as a result file stores it
    if not isinstance(saved, dict) or saved.get("record") != expected or "scores" not in saved:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(dest, text)
    return src


def store(record: dict[str, Any], text: str) -> Path:
    """Cache ``text`` (a result file's JSON, holding ``record``) for ``record``; returns its path."""
    path = cache_file(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return path
