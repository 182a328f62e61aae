"""Old import spellings kept working for third parties: a module ``__getattr__`` that returns
the moved object with a :class:`DeprecationWarning` naming the new spelling."""

from __future__ import annotations

import warnings
from typing import Any, Callable


def moved_names(module: str, names: dict[str, tuple[str, Any]]) -> Callable[[str], Any]:
    """``__getattr__`` for ``module``: ``names`` maps an old name to ``(new spelling, object)``."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new, value = names[name]
        warnings.warn(f"{module}.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return value

    return __getattr__
