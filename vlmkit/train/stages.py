"""Run a recipe's stages in order: each starts from the previous stage's final weights (weights
only, no optimizer state), a finished stage is skipped, an interrupted one resumes."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmkit.train import checkpoint as ckpt
from vlmkit.train.trainer import DataLoaderFactory, build_stage, default_dataloader_factory, finish_stage

if TYPE_CHECKING:
    from vlmkit.config import Recipe
    from vlmkit.model.vlm import VisionLanguageModel

log = logging.getLogger(__name__)


def stage_folder(recipe: "Recipe", stage: str) -> Path:
    return Path(recipe.trainer.run_dir) / stage


def initial_weights(recipe: "Recipe", stage: str) -> Path | None:
    """Final weights of the stage before ``stage``, if that stage has finished."""
    names = list(recipe.stages)
    index = names.index(stage)
    if index == 0:
        return None
    path = stage_folder(recipe, names[index - 1]) / ckpt.WEIGHTS
    return path if path.is_file() else None


def build_stage_model(recipe: "Recipe", stage: str) -> "VisionLanguageModel":
    """The model a stage starts from: built from ``model:`` (seeded), with the previous stage's
    final weights loaded when there are any (then pretrained weights are not loaded first)."""
    from composer.utils import reproducibility

    from vlmkit.export.weights import build_and_load
    from vlmkit.model.vlm import build_vlm

    reproducibility.seed_all(recipe.trainer.seed)
    init = initial_weights(recipe, stage)
    names = list(recipe.stages)
    if init is None and names.index(stage) > 0:
        log.warning("stage %r: the previous stage %r has no final weights; starting from the model's initial weights",
                    stage, names[names.index(stage) - 1])
    return build_vlm(recipe.model) if init is None else build_and_load(recipe.model, init)


def select_stages(recipe: "Recipe", stage: str | None) -> list[str]:
    names = list(recipe.stages)
    if stage is None:
        return names
    if stage not in names:
        raise ValueError(f"--stage {stage!r} is not a stage of recipe {recipe.name!r}; stages: {', '.join(names)}")
    return [stage]


def run_recipe(
    recipe: "Recipe",
    stage: str | None = None,
    dataloader_factory: DataLoaderFactory = default_dataloader_factory,
    progress_stream=None,
) -> dict[str, dict[str, Any]]:
    """Train every stage of ``recipe`` in order (or only ``stage``); returns ``{stage: summary}``.

    A stage whose ``done.json`` exists is skipped (its summary is read back); an interrupted stage
    continues from its newest checkpoint. With ``trainer.autoresume: false`` every stage run starts
    over: its earlier checkpoints and ``done.json`` are removed first.
    """
    from composer.utils import dist

    summaries: dict[str, dict[str, Any]] = {}
    for name in select_stages(recipe, stage):
        folder = stage_folder(recipe, name)
        if not recipe.trainer.autoresume and (ckpt.read_done(folder) is not None or ckpt.checkpoints(folder)):
            log.warning("trainer.autoresume is off: stage %r starts over (its checkpoints are removed)", name)
            if dist.get_global_rank() == 0:
                ckpt.clear_stage(folder)
            dist.barrier()
        done = ckpt.read_done(folder)
        if done is not None:
            log.info("stage %r already finished (%s); skipping", name, folder / ckpt.DONE)
            summaries[name] = {**done, "skipped": True}
            continue
        started = time.perf_counter()
        run = build_stage(recipe, name, build_stage_model(recipe, name), dataloader_factory, progress_stream)
        run.trainer.fit()
        summaries[name] = finish_stage(run, started)
    return summaries
