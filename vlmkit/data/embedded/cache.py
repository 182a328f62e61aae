"""Where embedded data is built (``$VLMKIT_CACHE``, default ``~/.cache/vlmkit``) and how: once, atomically.

A dataset is built in a temporary sibling folder and renamed into place, so a folder that exists
under its final name is complete; parallel processes racing to build it each build, the first
rename wins and the others discard their copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

CACHE_ENV = "VLMKIT_CACHE"
DEFAULT_CACHE = "~/.cache/vlmkit"
INDEX_FILE = "index.json"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def is_built(target: Path) -> bool:
    return (target / INDEX_FILE).is_file()


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Run ``build(tmp_folder)`` unless ``target`` is already built, then move the result to ``target``."""
    if is_built(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        build(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared like any other
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_built(target):  # not a lost race: something else is in the way
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
