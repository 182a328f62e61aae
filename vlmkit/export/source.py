"""What ``vlmkit export CHECKPOINT`` reads: the seam between training outputs and exports.

``CHECKPOINT`` is one of

- a recipe YAML: the final weights of its last finished stage under ``trainer.run_dir`` (or of
  ``--stage``), else the newest Composer checkpoint of the last stage that has one
  (:class:`~vlmkit.storage.layout.RunLayout`);
- a stage folder (``run_dir/<stage>/``), a ``model.safetensors`` file, or a Composer checkpoint
  (a ``ba{N}.pt`` file or a sharded ``ba{N}/`` folder) -- each with ``--recipe`` naming the recipe
  that trained it (the model it holds).

Composer checkpoints are read without unpickling code (:mod:`vlmkit.storage.composer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import torch

from vlmkit.storage import composer
from vlmkit.storage.deprecated import moved_names
from vlmkit.storage.layout import CHECKPOINT, WEIGHTS, RunLayout, StageDir
from vlmkit.storage.weights import load_strict, read_state_dict as read_safetensors

if TYPE_CHECKING:
    from vlmkit.config import ModelConfig, Recipe
    from vlmkit.model.vlm import VisionLanguageModel


@dataclass(frozen=True)
class TrainedWeights:
    """A model architecture (the recipe's ``model:``) and the file (or sharded folder) holding its trained weights."""

    model: "ModelConfig"
    path: Path
    recipe_name: str


def weights_of_recipe(recipe: "Recipe", stage: str | None) -> Path:
    layout = RunLayout.of(recipe)
    if stage is not None:
        found = layout.stage(layout.check_stage(stage, recipe.name)).newest_weights()
        if found is None:
            raise FileNotFoundError(f"stage {stage!r} has no weights under {layout.run_dir / stage}; train it first (vlmkit train ... --stage {stage})")
        return found
    found = layout.newest_weights()
    if found is None:
        raise FileNotFoundError(f"recipe {recipe.name!r} has no trained weights under {layout.run_dir}; train it first (vlmkit train RECIPE)")
    return found


def resolve(checkpoint: str, recipe_path: str | None = None, stage: str | None = None, overrides: Iterable[str] = ()) -> TrainedWeights:
    """Find the trained weights and the model config for ``checkpoint`` (see the module doc)."""
    from vlmkit.config import load_recipe

    path = Path(checkpoint)
    if path.suffix in (".yaml", ".yml"):
        recipe = load_recipe(path, overrides)
        return TrainedWeights(recipe.model, weights_of_recipe(recipe, stage), recipe.name)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {checkpoint!r} does not exist; give a recipe YAML, a stage folder, {WEIGHTS} or ba{{N}}.pt")
    if recipe_path is None:
        raise ValueError(f"{checkpoint!r} holds weights only; add --recipe RECIPE.yaml naming the model that was trained")
    recipe = load_recipe(recipe_path, overrides)
    if path.is_dir() and not CHECKPOINT.match(path.name):  # a stage folder, not a sharded checkpoint
        found = StageDir(path).newest_weights()
        if found is None:
            raise FileNotFoundError(f"{path} holds neither {WEIGHTS} nor a ba{{N}}.pt checkpoint or ba{{N}}/ sharded checkpoint")
        path = found
    return TrainedWeights(recipe.model, path, recipe.name)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """VLM state dict from ``model.safetensors`` or a Composer checkpoint (never unpickling code)."""
    return read_safetensors(path) if path.suffix == ".safetensors" else composer.read_checkpoint_model(path)


def load_trained(weights: TrainedWeights) -> "VisionLanguageModel":
    """Build the architecture (with its pretrained weights, so every buffer is real) and load the
    trained weights strictly over it."""
    from vlmkit.model.vlm import build_vlm

    model = build_vlm(weights.model, load_weights=True)
    load_strict(model, read_state_dict(weights.path), weights.path,
                f"was it trained with another recipe than {weights.recipe_name!r}?")
    return model.eval()


__getattr__ = moved_names(__name__, {  # spellings from before vlmkit.storage
    "composer_safe_globals": ("vlmkit.storage.composer.composer_safe_globals", composer.composer_safe_globals),
    "unpickling_reason": ("vlmkit.storage.composer.unpickling_reason", composer.unpickling_reason),
    "COMPOSER_PREFIX": ("vlmkit.storage.composer.COMPOSER_PREFIX", composer.COMPOSER_PREFIX),
    "stage_weights": ("vlmkit.storage.layout.StageDir(folder).newest_weights()", lambda folder: StageDir(folder).newest_weights()),
})
