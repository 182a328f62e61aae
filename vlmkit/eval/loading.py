"""``load_model(path)``: what ``vlmkit eval`` and ``vlmkit generate`` accept as MODEL.

A small seam of :class:`ModelSource` objects, tried in order (first match wins):

- a recipe YAML: the model is built from ``model:`` and the final weights of the last stage that
  finished under ``trainer.run_dir`` (:class:`~vlmkit.storage.layout.RunLayout`) are loaded, or
  of ``stage`` when given; with no finished stage the components' own initial weights are used;
- a folder: an exported model, loaded with ``vlmkit.export.from_pretrained`` (its
  ``chat_template`` attribute names the chat template).

Model sources are a registry kind: a plugin adds one with
``registry.model_sources.register("acme", "acme_vlm.source:AcmeSource")``, a :class:`ModelSource`
class (or any factory called with no arguments that returns one). Plugins' sources are tried
before the built-ins (``recipe``, ``exported``), each group by name.
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
        return path.suffix in (".yaml", ".yml") and not path.is_dir()

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


_LEGACY: list[tuple[bool, ModelSource]] = []  # (first, source) added through register_model_source


def model_sources() -> list[ModelSource]:
    """Every MODEL kind in the order tried: plugins' registered sources, then the built-ins."""
    from vlmkit.registry import PROJECT, registries

    entries = sorted(registries().model_sources.entries(), key=lambda e: (e.source == PROJECT, e.name))
    registered = [registries().model_sources.get(e.name)() for e in entries]
    return [s for first, s in _LEGACY if first] + registered + [s for first, s in _LEGACY if not first]


def register_model_source(source: ModelSource, *, first: bool = True) -> None:
    """Deprecated: register a :class:`ModelSource` factory in ``registry.model_sources`` from a plugin."""
    import warnings

    warnings.warn("register_model_source is deprecated; register the source from a plugin's hook with "
                  "registry.model_sources.register(name, factory)", DeprecationWarning, stacklevel=2)
    _LEGACY.insert(0 if first else len(_LEGACY), (first, source))


def __getattr__(name: str) -> Any:
    if name != "SOURCES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import warnings

    warnings.warn("vlmkit.eval.loading.SOURCES is deprecated and now a read-only copy; use model_sources()",
                  DeprecationWarning, stacklevel=2)
    return model_sources()


def load_model(path: str | Path, overrides: Sequence[str] = (), *, stage: str | None = None, device: str = "auto", dtype: str = "fp32") -> LoadedModel:
    """Load MODEL (see the module docstring), move it to ``device`` (``auto``: CUDA when available)
    in ``dtype`` (``fp32``, ``bf16``, ``fp16``), in eval mode."""
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    path = Path(path).expanduser()
    sources = model_sources()
    source = next((s for s in sources if s.matches(path)), None)
    if source is None:
        kinds = "; ".join(s.description for s in sources)
        raise FileNotFoundError(f"MODEL {str(path)!r} is none of: {kinds}")
    loaded = source.load(path, overrides, stage)
    loaded.model.to(device=torch_device(device), dtype=getattr(torch, DTYPES[dtype])).eval()
    return loaded


def torch_device(device: str) -> torch.device:
    """A torch device from ``auto`` (CUDA when available), ``cpu``, ``cuda[:N]`` or ``gpu`` (the
    ``trainer.device`` spelling Composer uses: the first CUDA device)."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device("cuda" if device == "gpu" else device)
