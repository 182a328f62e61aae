"""Composer loggers from the recipe's ``trainer.loggers: {name: {options}}``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmkit.registry import closest, resolve_import_string

# name -> (Composer class, PyPI package it needs, option filled with a path under the stage folder)
LOGGERS: dict[str, tuple[str, str | None, tuple[str, str] | None]] = {
    "console": ("composer.loggers:ConsoleLogger", None, None),
    "file": ("composer.loggers:FileLogger", None, ("filename", "log-rank{rank}.txt")),
    "tensorboard": ("composer.loggers:TensorboardLogger", "tensorboard", ("log_dir", "tensorboard")),
    "mlflow": ("composer.loggers:MLFlowLogger", "mlflow", None),
    "wandb": ("composer.loggers:WandBLogger", "wandb", None),
}


def build_loggers(specs: dict[str, dict[str, Any]], stage_dir: Path) -> list:
    """One Composer ``LoggerDestination`` per entry. Raises ``ValueError`` for an unknown name or a
    logger whose package is missing, naming the key and the fix."""
    out = []
    for name, options in specs.items():
        if name not in LOGGERS:
            hint = closest(name, list(LOGGERS))
            did = f"; did you mean {hint!r}?" if hint else ""
            raise ValueError(f"trainer.loggers.{name}: unknown logger{did} Available: {', '.join(LOGGERS)}")
        target, package, path_option = LOGGERS[name]
        kwargs = dict(options or {})
        if path_option is not None and path_option[0] not in kwargs:
            kwargs[path_option[0]] = str(stage_dir / path_option[1])
        try:
            out.append(resolve_import_string(target)(**kwargs))
        except ImportError as exc:
            raise ValueError(f"trainer.loggers.{name} needs the '{package}' package: pip install {package} ({exc})") from None
        except TypeError as exc:
            raise ValueError(f"trainer.loggers.{name}: bad options {sorted(kwargs)}: {exc}") from None
    return out
