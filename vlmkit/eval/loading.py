"""``load_model(path)``: what ``vlmkit eval`` and ``vlmkit generate`` accept as MODEL.

A small seam of :class:`ModelSource` objects, tried in order (first match wins):

- a recipe YAML: the model is built from ``model:`` and the final weights of the last stage that
  finished under ``trainer.run_dir`` (:class:`~vlmkit.storage.layout.RunLayout`) are loaded, or
  of ``stage`` when given; with no finished stage the components' own initial weights are used;
- a folder: an exported model, loaded with ``vlmkit.export.from_pretrained`` (its
  ``chat_template`` attribute names the chat template).

Another loader plugs in with :func:`register_model_source`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

log = logging.getLogger(__name__)

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass
class LoadedModel:
    """A model ready to evaluate, with what a run needs to know about it."""

    model: Any
    chat_template: str = "tokenizer"
    name: str = "model"
    output_dir: Path = field(default_factory=lambda: Path("eval_results"))
    tasks: list[dict[str, Any]] = field(default_factory=list)  # the recipe's eval.tasks
    settings: dict[str, Any] = field(default_factory=dict)  # the recipe's eval batch_size / max_new_tokens


class ModelSource(ABC):
    """One kind of MODEL argument."""

    description: str = ""

    @abstractmethod
    def matches(self, path: Path) -> bool:
        """Whether this source loads ``path``."""

    @abstractmethod
    def load(self, path: Path, overrides: Sequence[str], stage: str | None) -> LoadedModel:
        """The model at ``path`` (on CPU, fp32)."""


def finished_stage_weights(recipe, stage: str | None = None) -> tuple[str, Path] | None:
    """``(stage, final weights)`` of ``stage`` or of the last finished stage
    (:class:`~vlmkit.storage.layout.RunLayout`); ``None`` when no stage has finished."""
    from vlmkit.storage.layout import RunLayout

    layout = RunLayout.of(recipe)
    name = layout.last_finished() if stage is None else layout.check_stage(stage, recipe.name)
    if name is None:
        return None
    if not (weights := layout.stage(name).weights).is_file():
        raise FileNotFoundError(f"stage {name!r} has no final weights at {weights}; train it first")
    return name, weights


class RecipeSource(ModelSource):
    description = "a recipe YAML (weights of its last finished stage)"

    def matches(self, path: Path) -> bool:
        return path.suffix in (".yaml", ".yml")

    def load(self, path: Path, overrides: Sequence[str], stage: str | None) -> LoadedModel:
        from vlmkit.config import load_recipe
        from vlmkit.model.saved import build_and_load
        from vlmkit.model.vlm import build_vlm

        if not path.is_file():
            raise FileNotFoundError(f"recipe {path} does not exist")
        recipe = load_recipe(path, overrides)
        found = finished_stage_weights(recipe, stage)
        if found is None:
            log.warning("recipe %r has no finished stage under %s: evaluating the untrained model", recipe.name, recipe.trainer.run_dir)
            model = build_vlm(recipe.model)
        else:
            model = build_and_load(recipe.model, found[1])
        return LoadedModel(
            model, recipe.model.chat_template, recipe.name, Path(recipe.trainer.run_dir) / "eval",
            [t.model_dump() for t in recipe.eval.tasks],
            {"batch_size": recipe.eval.batch_size, "max_new_tokens": recipe.eval.max_new_tokens},
        )


class ExportedSource(ModelSource):
    description = "a folder written by `vlmkit export` (loaded with vlmkit.from_pretrained)"

    def matches(self, path: Path) -> bool:
        return path.is_dir()

    def load(self, path: Path, overrides: Sequence[str], stage: str | None) -> LoadedModel:
        from vlmkit.export import from_pretrained

        if overrides or stage:
            raise ValueError("recipe overrides and --stage apply to a recipe, not to an exported model folder")
        model = from_pretrained(path)
        template = getattr(model, "chat_template", None) or "tokenizer"
        return LoadedModel(model, template if isinstance(template, str) else "tokenizer", path.name, Path("eval_results") / path.name)


SOURCES: list[ModelSource] = [RecipeSource(), ExportedSource()]


def register_model_source(source: ModelSource, *, first: bool = True) -> None:
    """Add a MODEL kind; ``first`` tries it before the built-ins."""
    if first:
        SOURCES.insert(0, source)
    else:
        SOURCES.append(source)


def load_model(path: str | Path, overrides: Sequence[str] = (), *, stage: str | None = None, device: str = "auto", dtype: str = "fp32") -> LoadedModel:
    """Load MODEL (see the module docstring), move it to ``device`` (``auto``: CUDA when available)
    in ``dtype`` (``fp32``, ``bf16``, ``fp16``), in eval mode."""
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    path = Path(path).expanduser()
    source = next((s for s in SOURCES if s.matches(path)), None)
    if source is None:
        kinds = "; ".join(s.description for s in SOURCES)
        raise FileNotFoundError(f"MODEL {str(path)!r} is none of: {kinds}")
    loaded = source.load(path, overrides, stage)
    target = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
    loaded.model.to(device=target, dtype=getattr(torch, DTYPES[dtype])).eval()
    return loaded
