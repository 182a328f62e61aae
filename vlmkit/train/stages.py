"""Run a recipe's stages in order: each starts from the previous stage's final weights (weights
only, no optimizer state, checked against the sha256 in that stage's ``done.json``), a finished
stage is skipped, an interrupted one resumes, and one stopped after its final checkpoint but before
its ``done.json`` is finished without training. A run stopped by SIGINT or SIGTERM says where to
resume (:class:`Interrupted`)."""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from vlmkit.train import checkpoint as ckpt
from vlmkit.train.resume import stage_complete, start_process_group
from vlmkit.train.trainer import DataLoaderFactory, build_stage, default_dataloader_factory, finish_stage

if TYPE_CHECKING:
    from vlmkit.config import Recipe
    from vlmkit.model.vlm import VisionLanguageModel

log = logging.getLogger(__name__)


def stage_folder(recipe: "Recipe", stage: str) -> Path:
    return Path(recipe.trainer.run_dir) / stage


class Interrupted(KeyboardInterrupt):
    """A signal stopped a stage; the message says where the rerun resumes."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def initial_weights(recipe: "Recipe", stage: str) -> Path | None:
    """Final weights of the stage before ``stage``, if that stage has finished. ``ValueError``
    naming the file when they differ from the sha256 its ``done.json`` recorded."""
    names = list(recipe.stages)
    index = names.index(stage)
    if index == 0:
        return None
    folder = stage_folder(recipe, names[index - 1])
    path = folder / ckpt.WEIGHTS
    if not path.is_file():
        return None
    expected = (ckpt.read_done(folder) or {}).get("weights_sha256")
    if expected is not None and ckpt.sha256_file(path) != expected:
        raise ValueError(f"{path}: damaged final weights of stage {names[index - 1]!r} (their sha256 differs from "
                         f"{folder / ckpt.DONE}); delete both files and train stage {names[index - 1]!r} again (the whole "
                         f"recipe, or --stage {names[index - 1]}) to write them from its newest checkpoint")
    return path


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
    from vlmkit.train.precision import resolve_device

    start_process_group(resolve_device(recipe.trainer.device))  # ranks agree before any trainer exists
    summaries: dict[str, dict[str, Any]] = {}
    for name in select_stages(recipe, stage):
        folder = stage_folder(recipe, name)
        if not recipe.trainer.autoresume:
            start_over(name, folder)
        done = ckpt.read_done(folder)
        if done is not None:
            log.info("stage %r already finished (%s); skipping", name, folder / ckpt.DONE)
            summaries[name] = {**done, "skipped": True}
            continue
        with interruption_report(name, folder):
            summaries[name] = train_stage(recipe, name, dataloader_factory, progress_stream)
    return summaries


def start_over(name: str, folder: Path) -> None:
    """``trainer.autoresume: false``: rank 0 removes the stage's checkpoints and ``done.json``
    (damaged or not); every rank waits for it."""
    from composer.utils import dist

    if dist.get_global_rank() == 0 and ((folder / ckpt.DONE).exists() or ckpt.checkpoints(folder)):
        log.warning("trainer.autoresume is off: stage %r starts over (its checkpoints are removed)", name)
        ckpt.clear_stage(folder)
    dist.barrier()


def train_stage(recipe: "Recipe", name: str, dataloader_factory: DataLoaderFactory, progress_stream) -> dict[str, Any]:
    """Build, fit (unless the restored checkpoint already reached the stage's duration) and finish one stage."""
    started = time.perf_counter()
    run = build_stage(recipe, name, build_stage_model(recipe, name), dataloader_factory, progress_stream)
    if stage_complete(run.trainer.state):
        log.warning("stage %r: %s is already at the stage's duration (%s); writing its final weights without training",
                    name, run.resumed_from, run.trainer.state.max_duration)
    else:
        run.trainer.fit()
    return finish_stage(run, started)


@contextlib.contextmanager
def interruption_report(name: str, folder: Path) -> Iterator[None]:
    """Turn a SIGINT/SIGTERM (a ``KeyboardInterrupt``, or the ``SystemExit(128 + signal)`` that
    Composer's handlers raise) into :class:`Interrupted` naming the checkpoint a rerun resumes from."""
    codes = {128 + signal.SIGINT: "SIGINT", 128 + signal.SIGTERM: "SIGTERM"}
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as exc:
        code = getattr(exc, "code", 128 + signal.SIGINT)
        if isinstance(exc, Interrupted) or code not in codes:
            raise
        newest = ckpt.latest_checkpoint(folder)
        where = f"from {newest}" if newest else "from its start (it had no checkpoint yet)"
        raise Interrupted(f"{codes[code]} stopped stage {name!r}; rerun the same command to resume it {where}", code) from None
