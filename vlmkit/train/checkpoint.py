"""Crash-safe checkpoints and stage markers under ``run_dir/<stage>/``.

Composer's own saver writes the checkpoint file in place and replaces the ``latest`` symlink by
remove-then-create, so a crash at the wrong moment leaves a torn file or no ``latest`` at all.
Here every file is written to a hidden temporary name in the same folder, flushed to disk and then
renamed (``os.replace`` is atomic on POSIX), so a checkpoint ``ba{N}.pt`` either exists complete or
not at all, and resuming simply picks the highest ``N``. Layout of a stage folder::

    ba{N}.pt            full training state after batch N (model, optimizer, schedulers, RNG,
                        data position, loss history); the newest ``keep`` are kept
    ba{N}.pt.sha256     its checksum (``sha256sum`` format), published before the checkpoint;
                        resuming checks it (see :mod:`vlmkit.train.resume`)
    ba{N}/              the same as a sharded checkpoint (``trainer.checkpoint_format: sharded``,
                        FSDP2): one shard file per rank, an index and a manifest of their sha256
                        (see :mod:`vlmkit.train.sharded`)
    latest.pt           symlink to the newest, for people and other tools
    model.safetensors   final weights of the stage (written when the stage finishes)
    done.json           the stage finished: summary and the weights' sha256; a rerun skips the stage
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

import torch
from composer.core import Callback, Event, State
from composer.loggers import Logger
from composer.utils import create_interval_scheduler, dist, save_checkpoint

CKPT = re.compile(r"^ba(\d+)(\.pt)?$")  # a file ba{N}.pt, or a sharded folder ba{N}
WEIGHTS = "model.safetensors"
DONE = "done.json"
LATEST = "latest.pt"
CHECKSUM = ".sha256"  # suffix of a checkpoint's checksum file


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path) -> None:
    """Flush ``tmp`` to disk and rename it to ``final`` atomically (mode 0666 less the umask)."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then publish the result at ``path``."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    write(tmp)
    publish(tmp, path)


def checkpoints(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``folder`` as ``(batch, path)``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), folder / p) for p in os.listdir(folder) if (m := CKPT.match(p))]
    return sorted(found)


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    found = checkpoints(folder)
    return found[-1][1] if found else None


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path`` (read in chunks; about 1-2 GB/s)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def checksum_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + CHECKSUM)


def write_checksum(written: Path, checkpoint: Path) -> None:
    """Publish ``checkpoint``'s checksum file holding the sha256 of ``written`` (its content)."""
    line = f"{sha256_file(written)}  {checkpoint.name}\n"
    write_atomic(checksum_path(checkpoint), lambda tmp: tmp.write_text(line))


def remove_checkpoint(path: Path) -> None:
    """Delete a checkpoint (a file or a sharded folder) and its checksum file."""
    from vlmkit.train.sharded import remove

    remove(path)
    checksum_path(path).unlink(missing_ok=True)


def remove_partial_files(folder: Path) -> None:
    """Delete temporaries (files or sharded folders) a crash left behind (never a published file)."""
    from vlmkit.train.sharded import remove

    for name in os.listdir(folder) if folder.is_dir() else []:
        if name.startswith(".tmp-"):
            remove(folder / name)


class AtomicCheckpointSaver(Callback):
    """Saves the full Composer state every ``interval`` (and at the end) as ``folder/ba{N}.pt``,
    atomically, keeping the newest ``keep`` (``-1`` keeps all). Every rank must run it. ``sharded``:
    each rank writes its own shards into ``folder/ba{N}/`` (FSDP2 with Composer's ``state_dict_type``
    ``"sharded"``); otherwise FSDP gathers the state and rank 0 writes."""

    def __init__(self, folder: str | os.PathLike, interval: str, keep: int = 1, sharded: bool = False) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self.sharded = sharded
        self.should_save = create_interval_scheduler(interval)
        self.last_batch = -1

    def fit_start(self, state: State, logger: Logger) -> None:
        if dist.get_global_rank() == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            remove_partial_files(self.folder)
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
            final = self.folder / f"ba{batch}.pt"
            tmp = self.folder / f".tmp-{os.getpid()}-ba{batch}.pt"
            if save_checkpoint(state, str(tmp)) is not None and dist.get_global_rank() == 0:
                write_checksum(tmp, final)  # first: a published checkpoint always has its checksum
                publish(tmp, final)
        if dist.get_global_rank() == 0:
            link = self.folder / f".tmp-{os.getpid()}-{LATEST}"
            link.unlink(missing_ok=True)
            os.symlink(final.name, link)
            os.replace(link, self.folder / LATEST)
            self._prune()
        self.last_batch = batch
        dist.barrier()

    def _prune(self) -> None:
        if self.keep < 0:
            return
        for _, path in checkpoints(self.folder)[: -max(self.keep, 1)]:
            remove_checkpoint(path)


def full_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Unsharded CPU state dict of ``module`` (gathers FSDP2 shards; meaningful on rank 0)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    if not distributed:
        return {k: v.detach().cpu() for k, v in module.state_dict().items()}
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_model_state_dict(module, options=options)


def save_state_dict(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write ``tensors`` as safetensors at ``path`` atomically; tensors sharing memory (tied
    weights) are stored as copies, so the file loads strictly into the same architecture."""
    from safetensors.torch import save_file

    seen: set[tuple[int, int]] = set()
    out = {}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        key = (t.untyped_storage().data_ptr(), t.storage_offset())
        out[name] = t.clone() if key in seen else t
        seen.add(key)
    write_atomic(path, lambda tmp: save_file(out, str(tmp), metadata={"format": "pt"}))


def mark_done(folder: Path, summary: dict[str, Any]) -> None:
    """Write ``done.json``: ``summary``, plus ``weights_sha256`` when ``folder`` holds final weights
    (the next stage checks them against it before loading)."""
    if (folder / WEIGHTS).is_file():
        summary = {**summary, "weights_sha256": sha256_file(folder / WEIGHTS)}
    write_atomic(folder / DONE, lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))


def read_done(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The stage summary in ``folder/done.json``, ``None`` when there is none; ``ValueError``
    naming the file when it is not a JSON object."""
    path = Path(folder) / DONE
    if not path.is_file():
        return None
    try:
        done = json.loads(path.read_bytes())
    except ValueError as exc:  # invalid JSON or UTF-8
        done, reason = None, f"not valid JSON: {exc}"
    else:
        reason = f"holds a {type(done).__name__}, not a JSON object"
    if not isinstance(done, dict):
        raise ValueError(f"{path}: damaged stage marker ({reason}); delete it and train stage "
                         f"{path.parent.name!r} again to finish it from its newest checkpoint, if it has one")
    return done


def clear_stage(folder: str | os.PathLike) -> None:
    """Forget a stage's progress (checkpoints, ``latest``, ``done.json``) so it trains from the start."""
    folder = Path(folder)
    for _, path in checkpoints(folder):
        remove_checkpoint(path)
    for name in (LATEST, DONE):
        (folder / name).unlink(missing_ok=True)
    remove_partial_files(folder)
