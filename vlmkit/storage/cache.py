"""The vlmkit cache (``$VLMKIT_CACHE``, default ``~/.cache/vlmkit``) and filling it once, atomically.

:func:`build_once` builds a folder in a temporary sibling and renames it into place, so a folder
under its final name is complete. Processes (and threads) building into the same parent folder
take turns under an advisory lock on that folder, so a second one waits and finds the result
instead of building it again; correctness never depends on the lock (the rename alone keeps a
half-built folder out of sight), and no lock file is left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

CACHE_ENV = "VLMKIT_CACHE"
DEFAULT_CACHE = "~/.cache/vlmkit"


def cache_root() -> Path:
    """``$VLMKIT_CACHE``, or ``~/.cache/vlmkit`` when it is unset or empty."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def build_once(target: Path, build: Callable[[Path], None], complete: Callable[[Path], bool] = Path.is_dir) -> Path:
    """Return ``target``, first creating it with ``build(tmp_folder)`` unless ``complete(target)``.

    ``build`` writes into a fresh folder beside ``target`` that is then renamed into place (mode
    0755, like any shared cache folder); when the build fails, nothing is left behind. When
    another process published ``target`` first, its copy is kept and this one discarded.
    """
    if complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.parent):
        if complete(target):
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
        try:
            build(tmp)
            tmp.chmod(0o755)  # mkdtemp makes it private
            try:
                os.rename(tmp, target)
            except OSError:
                if not complete(target):  # not a lost race: something else is in the way
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """An advisory lock on ``folder`` itself where the OS has ``fcntl`` (else none)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: the atomic rename alone keeps it safe
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
