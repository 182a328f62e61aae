"""Composer loggers and extra callbacks of a stage, from ``trainer.loggers`` and ``trainer.callbacks``
(each ``{registered name: {options}}``).

Both are registry kinds (``registry.loggers``, ``registry.callbacks``; built-ins in
:mod:`vlmkit.train.builtins`). A factory is called as ``factory(stage_dir, **options)`` with the
stage's folder (a ``Path``) and returns a Composer ``LoggerDestination`` (loggers) or ``Callback``
(callbacks). :class:`ComposerClass` adapts a Composer class to that call.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmkit.registry import closest, registries, resolve_import_string


@dataclass(frozen=True)
class ComposerClass:
    """A factory ``(stage_dir, **options) -> target(**options)`` for a Composer class given as
    ``"module:attr"``; ``package``: the PyPI package it needs; ``path_option``: ``(option, file)``
    filled with ``stage_dir / file`` unless the recipe gives it."""

    target: str
    package: str | None = None
    path_option: tuple[str, str] | None = None

    def __call__(self, stage_dir: Path, **options: Any) -> Any:
        if self.path_option is not None and self.path_option[0] not in options:
            options[self.path_option[0]] = str(Path(stage_dir) / self.path_option[1])
        try:
            cls = resolve_import_string(self.target)
        except ImportError as exc:
            raise ImportError(f"needs the '{self.package}' package: pip install {self.package} ({exc})") from None
        return cls(**options)


def build_named(kind: str, key: str, specs: dict[str, dict[str, Any]], stage_dir: Path) -> list:
    """One object per ``{name: options}`` entry of the recipe key ``key``, built by the ``kind``
    factory registered as ``name``. Raises ``ValueError`` naming the key for an unknown name, a
    missing package or bad options."""
    registry, label = registries().kind(kind), kind[:-1]
    out = []
    for name, options in specs.items():
        if name not in registry:
            hint = closest(name, registry.names())
            did = f"; did you mean {hint!r}?" if hint else ""
            raise ValueError(f"{key}.{name}: unknown {label}{did} Available: {', '.join(registry.names())}")
        kwargs = dict(options or {})
        try:
            out.append(registry.get(name)(stage_dir, **kwargs))
        except ImportError as exc:
            raise ValueError(f"{key}.{name} {exc}") from None
        except TypeError as exc:
            raise ValueError(f"{key}.{name}: bad options {sorted(kwargs)}: {exc}") from None
    return out


def build_loggers(specs: dict[str, dict[str, Any]], stage_dir: Path) -> list:
    """One Composer ``LoggerDestination`` per ``trainer.loggers`` entry."""
    return build_named("loggers", "trainer.loggers", specs, stage_dir)


def build_callbacks(specs: dict[str, dict[str, Any]], stage_dir: Path) -> list:
    """One Composer ``Callback`` per ``trainer.callbacks`` entry."""
    return build_named("callbacks", "trainer.callbacks", specs, stage_dir)


def __getattr__(name: str) -> Any:
    if name != "LOGGERS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn("vlmkit.train.loggers.LOGGERS is deprecated and now a read-only copy; use "
                  "vlmkit.registry.registries().loggers (registry.loggers.register in a plugin)", DeprecationWarning, stacklevel=2)
    return {n: registries().loggers.get(n) for n in registries().loggers}
