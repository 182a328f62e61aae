"""Evaluation tasks (registry kind ``tasks``): the :class:`Task` interface and the built-in loaders
for the official file formats of the VILA paper's benchmarks, plus embedded tasks that need no
downloads. Build one by name with :func:`build_task`."""

from __future__ import annotations

from typing import Any

from vlmkit.eval.tasks.base import Example, ImageSource, Prediction, Task


def build_task(name: str, options: dict[str, Any] | None = None) -> Task:
    """The registered task ``name`` built with ``options`` (a nested ``support`` dict allowed)."""
    from vlmkit.registry import registries

    factory = registries().tasks.get(name)
    return factory(**(options or {}))


__all__ = ["Example", "ImageSource", "Prediction", "Task", "build_task"]
