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

from vlmkit.storage.deprecated import moved_names
from vlmkit.storage.layout import RunLayout, StageDir
from vlmkit.train.remote import fetch_finished
from vlmkit.train.resume import stage_complete, start_process_group
from vlmkit.train.trainer import DataLoaderFactory, build_stage, default_dataloader_factory, finish_stage

if TYPE_CHECKING:
    from vlmkit.config import Recipe
    from vlmkit.model.vlm import VisionLanguageModel

log = logging.getLogger(__name__)


class Interrupted(KeyboardInterrupt):
    """A signal stopped a stage; the message says where the rerun resumes."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def initial_weights(recipe: "Recipe", stage: str) -> Path | None:
    """Final weights of the stage before ``stage``, if that stage has any. ``ValueError`` naming
    the file when they differ from the sha256 its ``done.json`` recorded."""
    layout = RunLayout.of(recipe)
    previous = layout.previous(stage)
    return None if previous is None else layout.stage(previous).checked_weights()


def build_stage_model(recipe: "Recipe", stage: str) -> "VisionLanguageModel":
    """The model a stage starts from: built from ``model:`` (seeded), with the previous stage's
    final weights loaded when there are any (then pretrained weights are not loaded first)."""
    from composer.utils import reproducibility

    from vlmkit.model.saved import build_and_load
    from vlmkit.model.vlm import build_vlm

    reproducibility.seed_all(recipe.trainer.seed)
    init = initial_weights(recipe, stage)
    if init is None and (previous := RunLayout.of(recipe).previous(stage)) is not None:
        log.warning("stage %r: the previous stage %r has no final weights; starting from the model's initial weights",
                    stage, previous)
    return build_vlm(recipe.model) if init is None else build_and_load(recipe.model, init)


def select_stages(recipe: "Recipe", stage: str | None) -> list[str]:
    layout = RunLayout.of(recipe)
    return list(layout.stages) if stage is None else [layout.check_stage(stage, recipe.name)]


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
    if recipe.trainer.autoresume:
        fetch_finished(recipe, list(recipe.stages))  # trainer.remote_run_dir: stages finished there are not rerun
    summaries: dict[str, dict[str, Any]] = {}
    for name in select_stages(recipe, stage):
        folder = RunLayout.of(recipe).stage(name)
        if not recipe.trainer.autoresume:
            start_over(folder)
        done = folder.read_done()
        if done is not None:
            log.info("stage %r already finished (%s); skipping", name, folder.done)
            summaries[name] = {**done, "skipped": True}
            continue
        with interruption_report(folder):
            summaries[name] = train_stage(recipe, name, dataloader_factory, progress_stream)
    return summaries


def start_over(folder: StageDir) -> None:
    """``trainer.autoresume: false``: rank 0 removes the stage's checkpoints and ``done.json``
    (damaged or not); every rank waits for it."""
    from composer.utils import dist

    if dist.get_global_rank() == 0 and (folder.done.exists() or folder.checkpoints()):
        log.warning("trainer.autoresume is off: stage %r starts over (its checkpoints are removed)", folder.name)
        folder.clear()
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
def interruption_report(folder: StageDir) -> Iterator[None]:
    """Turn a SIGINT/SIGTERM (a ``KeyboardInterrupt``, or the ``SystemExit(128 + signal)`` that
    Composer's handlers raise) into :class:`Interrupted` naming the checkpoint a rerun resumes from."""
    codes = {128 + signal.SIGINT: "SIGINT", 128 + signal.SIGTERM: "SIGTERM"}
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as exc:
        code = getattr(exc, "code", 128 + signal.SIGINT)
        if isinstance(exc, Interrupted) or code not in codes:
            raise
        newest = folder.newest_checkpoint()
        where = f"from {newest}" if newest else "from its start (it had no checkpoint yet)"
        raise Interrupted(f"{codes[code]} stopped stage {folder.name!r}; rerun the same command to resume it {where}", code) from None


__getattr__ = moved_names(__name__, {  # spellings from before vlmkit.storage
    "stage_folder": ("vlmkit.storage.layout.RunLayout.of(recipe).stage(name).folder",
                     lambda recipe, stage: RunLayout.of(recipe).stage(stage).folder),
})
