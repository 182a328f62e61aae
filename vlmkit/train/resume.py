"""Resuming a stage from its folder without trusting what is in it.

- **Which checkpoint.** The newest ``ba{N}.pt`` whose sha256 matches its ``ba{N}.pt.sha256``
  (written by :class:`~vlmkit.train.checkpoint.AtomicCheckpointSaver` before the checkpoint is
  published). A newer one that is damaged (truncated, empty, overwritten, flipped bytes, no checksum)
  is renamed ``ba{N}.pt.damaged`` with a one-line warning, and the stage resumes from the one before
  it; when none is intact a ``ValueError`` names every file and why. Rank 0 decides, every rank
  follows.
- **How it is read.** Composer reads checkpoints with ``torch.load(weights_only=False)``, which
  would run any code a pickle holds. :func:`resuming_trainer` builds the Composer trainer with
  torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` switch on and an allow-list of the plain data types a
  Composer checkpoint holds (:func:`~vlmkit.storage.composer.composer_safe_globals`), so anything else
  is refused before it is created, and the refusal is one line naming the file.
- **Sharded checkpoints** (folders ``ba{N}/``, :mod:`vlmkit.train.sharded`) are checked against
  their ``manifest.sha256`` instead, and their ``.metadata`` index (a pickle DCP reads with plain
  ``pickle.load``) is first read by a restricted unpickler on every rank, so it cannot run code either.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import re
from pathlib import Path
from typing import Any, Iterator

import torch

from vlmkit.storage.atomic import remove, sha256_file
from vlmkit.storage.composer import composer_safe_globals, read_metadata, unpickling_reason
from vlmkit.storage.layout import StageDir, checksum_path

log = logging.getLogger(__name__)

DAMAGED = ".damaged"  # suffix a damaged checkpoint (and its checksum file) is renamed with
SHA256_LINE = re.compile(r"^([0-9a-f]{64})  (\S+)\n?$")
FORCE_SAFE, FORCE_UNSAFE = "TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


def damage(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` cannot be trusted (its checksum file is missing or unreadable, or the
    sha256 of its bytes differs), or ``None`` when it is intact."""
    if checkpoint.is_dir():
        from vlmkit.train import sharded

        return sharded.damage(checkpoint)
    sidecar = checksum_path(checkpoint)
    if not sidecar.is_file():
        return f"no checksum file {sidecar.name}"
    match = SHA256_LINE.match(sidecar.read_text(errors="replace"))
    if match is None or match.group(2) != checkpoint.name:
        return f"{sidecar.name} is not a sha256 line for {checkpoint.name}"
    if sha256_file(checkpoint) != match.group(1):
        return f"its sha256 does not match {sidecar.name} ({checkpoint.stat().st_size} bytes)"
    return None


def set_aside(checkpoint: Path) -> Path:
    """Rename a damaged checkpoint and its checksum file out of the way (kept for inspection)."""
    aside = checkpoint.with_name(checkpoint.name + DAMAGED)
    if aside.is_dir():  # an earlier damaged sharded folder of the same batch (a file is replaced)
        remove(aside)
    os.replace(checkpoint, aside)
    sidecar = checksum_path(checkpoint)
    if sidecar.is_file():
        os.replace(sidecar, sidecar.with_name(sidecar.name + DAMAGED))
    return aside


def choose(folder: Path) -> Path | None:
    """The newest intact checkpoint in ``folder`` (``None`` when there are none at all); damaged
    newer ones are set aside with a warning. ``ValueError`` when every checkpoint is damaged
    (then nothing is renamed)."""
    found = [path for _, path in reversed(StageDir(folder).checkpoints())]
    damaged: list[tuple[Path, str]] = []
    for path in found:
        reason = damage(path)
        if reason is None:
            for bad, why in damaged:
                aside = set_aside(bad)
                log.warning("%s is damaged (%s); renamed it %s and resuming from %s", bad, why, aside.name, path.name)
            return path
        damaged.append((path, reason))
    if damaged:
        listed = "; ".join(f"{p.name}: {why}" for p, why in damaged)
        raise ValueError(f"{folder}: no intact checkpoint to resume from ({listed}); move them away, or set "
                         "trainer.autoresume=false, to train the stage from its start")
    return None


def start_process_group(device: str) -> None:
    """Start the process group for ``device`` (``"cpu"``: gloo, ``"gpu"``: NCCL) when there are
    several processes, as the Composer trainer would (it then reuses it); needed by ranks that must
    agree before a trainer exists."""
    from composer.utils import dist

    if dist.get_world_size() > 1:
        dist.initialize_dist(device)


def check_format(checkpoint: Path | None, sharded: bool) -> Path | None:
    """``checkpoint`` when its format is the configured one (a folder when ``sharded``), else ``ValueError``."""
    if checkpoint is None or checkpoint.is_dir() == sharded:
        return checkpoint
    have, want = ("sharded", "full") if checkpoint.is_dir() else ("full", "sharded")
    raise ValueError(f"{checkpoint}: a {have} checkpoint, but trainer.checkpoint_format is {want}; set "
                     f"trainer.checkpoint_format={have} to resume from it, or move it away to start the stage over")


def resume_checkpoint(folder: str | os.PathLike, device: str, sharded: bool = False, remote=None) -> Path | None:
    """:func:`choose` on rank 0, the same answer (or error) on every rank (``device`` as in
    :func:`start_process_group`); ``sharded``: the stage writes sharded checkpoints (folders);
    ``remote``: a :class:`~vlmkit.train.remote.RemoteFolder` whose newer checkpoints are downloaded first."""
    from composer.utils import dist

    start_process_group(device)
    answer: list[Any] = [None]
    if dist.get_global_rank() == 0:
        try:
            if remote is not None:
                from vlmkit.train.remote import fetch_checkpoints

                fetch_checkpoints(Path(folder), remote)
            answer[0] = check_format(choose(Path(folder)), sharded)
        except ValueError as exc:
            answer[0] = exc
    dist.broadcast_object_list(answer, src=0)
    if isinstance(answer[0], ValueError):
        raise ValueError(str(answer[0])) from None
    return answer[0]


@contextlib.contextmanager
def restricted_unpickling() -> Iterator[None]:
    """Inside: every ``torch.load`` in this process is ``weights_only=True`` (whatever its caller
    asks for), allowing tensors, containers and the Composer allow-list only."""
    saved = {name: os.environ.pop(name, None) for name in (FORCE_SAFE, FORCE_UNSAFE)}
    os.environ[FORCE_SAFE] = "1"
    try:
        with torch.serialization.safe_globals(composer_safe_globals()):
            yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def resuming_trainer(resume: Path | None, **trainer_args: Any):
    """A :class:`composer.Trainer` built from ``trainer_args`` that restores ``resume`` (a
    checkpoint from :func:`resume_checkpoint`, or ``None``) under :func:`restricted_unpickling`."""
    from composer import Trainer

    if resume is None:
        return Trainer(load_path=None, **trainer_args)
    try:
        if resume.is_dir():
            read_metadata(resume)  # refuses a planted index before DCP pickle.loads it
        with restricted_unpickling():
            return Trainer(load_path=str(resume), **trainer_args)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{resume}: refused to load this checkpoint ({unpickling_reason(exc)}); nothing in it was run. "
                         "vlmkit train does not write such files: delete it (and its checksum file) if you do not "
                         "trust where it came from") from None


def stage_complete(state) -> bool:
    """Whether a restored Composer ``state`` is already at its ``max_duration`` (a run stopped
    after the stage's final checkpoint, before its ``done.json``)."""
    end = state.max_duration
    return end is not None and state.timestamp.get(end.unit) >= end
