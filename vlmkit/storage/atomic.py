"""Files that exist complete or not at all: write to a hidden temporary name in the same folder,
flush it to disk, then rename it into place (``os.replace`` is atomic on POSIX).

Temporaries are named ``.tmp-<pid>-<name>`` (:data:`TMP_PREFIX`), so a crash leaves only names a
reader never takes for published files, and :func:`remove_temporaries` can clear them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable

TMP_PREFIX = ".tmp-"


def temporary(path: Path) -> Path:
    """The hidden name ``path`` is written under before :func:`publish` renames it."""
    return path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path) -> None:
    """Flush the file ``tmp`` to disk and rename it to ``final`` atomically (mode 0666 less the umask)."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def publish_folder(tmp: Path, final: Path) -> None:
    """Rename the folder ``tmp`` to ``final``. A folder already at ``final`` is renamed aside first
    and deleted after, so a reader of ``final`` finds the old folder or the new one, whole."""
    if final.exists():
        old = final.with_name(f"{TMP_PREFIX}{os.getpid()}-old-{final.name}")
        os.replace(final, old)
        os.replace(tmp, final)
        remove(old)
    else:
        os.replace(tmp, final)
    fsync_dir(final.parent)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then publish the result at ``path``."""
    tmp = temporary(path)
    write(tmp)
    publish(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Publish ``text`` (UTF-8) at ``path`` atomically."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path`` (read in chunks; about 1-2 GB/s)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def remove(path: Path) -> None:
    """Delete a file, symlink or folder (with its contents); nothing when it is absent."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def remove_temporaries(folder: Path) -> None:
    """Delete the temporaries (files or folders) a crash left in ``folder``, never a published name."""
    for name in os.listdir(folder) if folder.is_dir() else []:
        if name.startswith(TMP_PREFIX):
            remove(folder / name)
