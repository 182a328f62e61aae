"""Crash-safe checkpoints of a stage, written into the stage folder that
:class:`~vlmkit.storage.layout.StageDir` describes.

Composer's own saver writes the checkpoint file in place and replaces the ``latest`` symlink by
remove-then-create, so a crash at the wrong moment leaves a torn file or no ``latest`` at all.
Here every file is written under a temporary name and renamed into place
(:mod:`vlmkit.storage.atomic`), so a checkpoint ``ba{N}.pt`` either exists complete or not at all,
and resuming picks the newest intact one (:mod:`vlmkit.train.resume`). Each ``ba{N}.pt`` gets its
``ba{N}.pt.sha256`` first; a sharded ``ba{N}/`` folder carries a manifest instead
(:mod:`vlmkit.train.sharded`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from composer.core import Callback, Event, State
from composer.loggers import Logger
from composer.utils import create_interval_scheduler, dist, save_checkpoint

from vlmkit.storage import atomic, layout
from vlmkit.storage.deprecated import moved_names
from vlmkit.storage.layout import StageDir, checksum_path
from vlmkit.storage.weights import save_state_dict


def write_checksum(written: Path, checkpoint: Path) -> None:
    """Publish ``checkpoint``'s checksum file holding the sha256 of ``written`` (its content)."""
    line = f"{atomic.sha256_file(written)}  {checkpoint.name}\n"
    atomic.write_text_atomic(checksum_path(checkpoint), line)


class AtomicCheckpointSaver(Callback):
    """Saves the full Composer state every ``interval`` (and at the end) as ``folder/ba{N}.pt``,
    atomically, keeping the newest ``keep`` (``-1`` keeps all). Every rank must run it. ``sharded``:
    each rank writes its own shards into ``folder/ba{N}/`` (FSDP2 with Composer's ``state_dict_type``
    ``"sharded"``); otherwise FSDP gathers the state and rank 0 writes."""

    def __init__(self, folder: str | os.PathLike, interval: str, keep: int = 1, sharded: bool = False) -> None:
        self.stage = StageDir(Path(folder))
        self.folder = self.stage.folder
        self.keep = keep
        self.sharded = sharded
        self.should_save = create_interval_scheduler(interval)
        self.last_batch = -1

    def fit_start(self, state: State, logger: Logger) -> None:
        if dist.get_global_rank() == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic.remove_temporaries(self.folder)
        dist.barrier()

    def _maybe_save(self, state: State, event: Event) -> None:
        batch = int(state.timestamp.batch)
        if batch != self.last_batch and self.should_save(state, event):
            self.save(state)

    def batch_checkpoint(self, state: State, logger: Logger) -> None:
        self._maybe_save(state, Event.BATCH_CHECKPOINT)

    def epoch_checkpoint(self, state: State, logger: Logger) -> None:
        self._maybe_save(state, Event.EPOCH_CHECKPOINT)

    def save(self, state: State) -> None:
        from vlmkit.train import sharded

        batch = int(state.timestamp.batch)
        if self.sharded:
            final = sharded.save(state, self.folder, batch)  # published by rank 0 with its manifest
        else:
            final = self.stage.checkpoint(batch)
            tmp = atomic.temporary(final)
            if save_checkpoint(state, str(tmp)) is not None and dist.get_global_rank() == 0:
                write_checksum(tmp, final)  # first: a published checkpoint always has its checksum
                atomic.publish(tmp, final)
        if dist.get_global_rank() == 0:
            link = atomic.temporary(self.stage.latest)
            link.unlink(missing_ok=True)
            os.symlink(final.name, link)
            os.replace(link, self.stage.latest)
            self._prune()
        self.last_batch = batch
        dist.barrier()

    def _prune(self) -> None:
        if self.keep < 0:
            return
        for _, path in self.stage.checkpoints()[: -max(self.keep, 1)]:
            self.stage.remove_checkpoint(path)


def full_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Unsharded CPU state dict of ``module`` (gathers FSDP2 shards; meaningful on rank 0)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    if not distributed:
        return {k: v.detach().cpu() for k, v in module.state_dict().items()}
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_model_state_dict(module, options=options)


def _stage(folder: str | os.PathLike) -> StageDir:
    return StageDir(Path(folder))


_LAYOUT, _ATOMIC = "vlmkit.storage.layout", "vlmkit.storage.atomic"
__getattr__ = moved_names(__name__, {  # spellings from before vlmkit.storage
    "WEIGHTS": (f"{_LAYOUT}.WEIGHTS", layout.WEIGHTS),
    "DONE": (f"{_LAYOUT}.DONE", layout.DONE),
    "LATEST": (f"{_LAYOUT}.LATEST", layout.LATEST),
    "CHECKSUM": (f"{_LAYOUT}.CHECKSUM", layout.CHECKSUM),
    "CKPT": (f"{_LAYOUT}.CHECKPOINT", layout.CHECKPOINT),
    "checksum_path": (f"{_LAYOUT}.checksum_path", checksum_path),
    "fsync_dir": (f"{_ATOMIC}.fsync_dir", atomic.fsync_dir),
    "publish": (f"{_ATOMIC}.publish", atomic.publish),
    "write_atomic": (f"{_ATOMIC}.write_atomic", atomic.write_atomic),
    "sha256_file": (f"{_ATOMIC}.sha256_file", atomic.sha256_file),
    "remove_partial_files": (f"{_ATOMIC}.remove_temporaries", atomic.remove_temporaries),
    "save_state_dict": ("vlmkit.storage.weights.save_state_dict", save_state_dict),
    "checkpoints": (f"{_LAYOUT}.StageDir(folder).checkpoints()", lambda folder: _stage(folder).checkpoints()),
    "latest_checkpoint": (f"{_LAYOUT}.StageDir(folder).newest_checkpoint()", lambda folder: _stage(folder).newest_checkpoint()),
    "remove_checkpoint": (f"{_LAYOUT}.StageDir.remove_checkpoint", lambda path: _stage(path.parent).remove_checkpoint(path)),
    "mark_done": (f"{_LAYOUT}.StageDir(folder).mark_done(summary)", lambda folder, summary: _stage(folder).mark_done(summary)),
    "read_done": (f"{_LAYOUT}.StageDir(folder).read_done()", lambda folder: _stage(folder).read_done()),
    "clear_stage": (f"{_LAYOUT}.StageDir(folder).clear()", lambda folder: _stage(folder).clear()),
})
