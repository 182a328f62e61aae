"""The recipes that ship with vlmkit: the source tree's ``recipes/`` folder, which a built wheel
carries as the package data ``vlmkit/recipes/`` (in a checkout, and so in an editable install,
``vlmkit/recipes`` is a symbolic link to ``recipes/``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled_recipes() -> Path:
    """The folder of the shipped recipes (``embedded.yaml``, ``ablations/``, ``scales/``, ...)."""
    return Path(str(files("vlmkit") / "recipes")).resolve()


def find_recipe(path: str | Path) -> Path:
    """``path`` when it exists. Otherwise a path written ``recipes/...`` (as in the README and docs)
    is the shipped file or folder of that name, so those commands also work from an installed
    wheel; any other path comes back unchanged, for the caller's not-found error to name."""
    path = Path(path)
    if path.exists() or path.parts[:1] != ("recipes",):
        return path
    shipped = bundled_recipes().joinpath(*path.parts[1:])
    return shipped if shipped.exists() else path
