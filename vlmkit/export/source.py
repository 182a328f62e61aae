"""What ``vlmkit export CHECKPOINT`` reads: the seam between training outputs and exports.

``CHECKPOINT`` is one of

- a recipe YAML: the final weights (``model.safetensors``) of its last finished stage under
  ``trainer.run_dir`` (or of ``--stage``), else that stage's newest Composer checkpoint;
- a stage folder (``run_dir/<stage>/``), a ``model.safetensors`` file, or a Composer checkpoint
  ``ba{N}.pt`` -- each with ``--recipe`` naming the recipe that trained it (the model it holds).

Composer checkpoints are read with ``torch.load(weights_only=True)`` and an allow-list of the
plain data types Composer stores (no arbitrary unpickling).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import torch

if TYPE_CHECKING:
    from vlmkit.config import ModelConfig, Recipe
    from vlmkit.model.vlm import VisionLanguageModel

WEIGHTS = "model.safetensors"  # a finished stage's final weights (vlmkit.train.checkpoint.WEIGHTS)
COMPOSER_PREFIX = "model."  # Composer stores the VLM under its wrapper's ``model`` attribute


@dataclass(frozen=True)
class TrainedWeights:
    """A model architecture (the recipe's ``model:``) and the file holding its trained weights."""

    model: "ModelConfig"
    path: Path
    recipe_name: str


def stage_weights(folder: Path) -> Path | None:
    """A stage folder's final weights, else its newest ``ba{N}.pt``."""
    final = folder / WEIGHTS
    if final.is_file():
        return final
    numbered = sorted((int(p.stem[2:]), p) for p in folder.glob("ba*.pt") if p.stem[2:].isdigit())
    return numbered[-1][1] if numbered else None


def weights_of_recipe(recipe: "Recipe", stage: str | None) -> Path:
    run_dir = Path(recipe.trainer.run_dir)
    if stage is not None:
        if stage not in recipe.stages:
            raise ValueError(f"--stage {stage!r} is not a stage of recipe {recipe.name!r}; stages: {', '.join(recipe.stages)}")
        found = stage_weights(run_dir / stage)
        if found is None:
            raise FileNotFoundError(f"stage {stage!r} has no weights under {run_dir / stage}; train it first (vlmkit train ... --stage {stage})")
        return found
    for name in reversed(list(recipe.stages)):
        if (run_dir / name / WEIGHTS).is_file():
            return run_dir / name / WEIGHTS
    for name in reversed(list(recipe.stages)):
        if (found := stage_weights(run_dir / name)) is not None:
            return found
    raise FileNotFoundError(f"recipe {recipe.name!r} has no trained weights under {run_dir}; train it first (vlmkit train RECIPE)")


def resolve(checkpoint: str, recipe_path: str | None = None, stage: str | None = None, overrides: Iterable[str] = ()) -> TrainedWeights:
    """Find the trained weights and the model config for ``checkpoint`` (see the module doc)."""
    from vlmkit.config import load_recipe

    path = Path(checkpoint)
    if path.suffix in (".yaml", ".yml"):
        recipe = load_recipe(path, overrides)
        return TrainedWeights(recipe.model, weights_of_recipe(recipe, stage), recipe.name)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {checkpoint!r} does not exist; give a recipe YAML, a stage folder, model.safetensors or ba{{N}}.pt")
    if recipe_path is None:
        raise ValueError(f"{checkpoint!r} holds weights only; add --recipe RECIPE.yaml naming the model that was trained")
    recipe = load_recipe(recipe_path, overrides)
    if path.is_dir():
        found = stage_weights(path)
        if found is None:
            raise FileNotFoundError(f"{path} holds neither {WEIGHTS} nor a ba{{N}}.pt checkpoint")
        path = found
    return TrainedWeights(recipe.model, path, recipe.name)


def composer_safe_globals() -> list:
    """Plain data types inside a Composer checkpoint besides tensors: timestamps, versions, numpy RNG state."""
    import numpy as np
    from torch.torch_version import TorchVersion

    core = getattr(np, "_core", None) or np.core
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return [datetime.timedelta, TorchVersion, np.dtype, np.ndarray, core.multiarray._reconstruct, *dtypes]


def unpickling_reason(exc: Exception) -> str:
    """The informative line of a ``torch.load`` failure (e.g. which global was refused)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    refused = [line.split("error: ", 1)[-1] for line in lines if "Unsupported global" in line]
    return (refused or lines or [type(exc).__name__])[0]


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """VLM state dict from ``model.safetensors`` or a Composer ``.pt`` (never unpickling code)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    with torch.serialization.safe_globals(composer_safe_globals()):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling refused or a torn file: say which and stop
            raise ValueError(f"{path}: not a readable Composer checkpoint ({unpickling_reason(exc)})") from None
    model = state.get("state", {}).get("model") if isinstance(state, dict) else None
    if not isinstance(model, dict):
        raise ValueError(f"{path}: no model state found (expected a Composer checkpoint from vlmkit train)")
    return {k.removeprefix(COMPOSER_PREFIX): v for k, v in model.items()}


def load_trained(weights: TrainedWeights) -> "VisionLanguageModel":
    """Build the architecture (with its pretrained weights, so every buffer is real) and load the
    trained weights strictly over it."""
    from vlmkit.model.vlm import build_vlm

    model = build_vlm(weights.model, load_weights=True)
    state = read_state_dict(weights.path)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{weights.path} does not fit the model of recipe {weights.recipe_name!r} "
            f"(missing {missing[:4]}, unexpected {unexpected[:4]}); was it trained with another recipe?"
        )
    return model.eval()
