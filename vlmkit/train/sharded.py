"""Sharded checkpoints (``trainer.checkpoint_format: sharded``, FSDP2): each rank writes only its
own shards through ``torch.distributed.checkpoint`` (DCP), nothing is gathered on rank 0.

Layout of one checkpoint, a folder published atomically like a ``ba{N}.pt`` file::

    ba{N}/__{rank}_0.distcp   rank ``rank``'s shards of the model and optimizer state
    ba{N}/.metadata           DCP's index of the shards (a pickle)
    ba{N}/manifest.sha256     sha256 of every other file (``sha256sum`` format), written last

Every rank writes into ``.tmp-ba{N}/``; after all ranks finished, rank 0 writes the manifest and
renames the folder to ``ba{N}`` (one ``rename``: the checkpoint exists complete or not at all).

DCP reads ``.metadata`` with a plain ``pickle.load``, which torch's weights-only switch does not
cover. Before DCP sees it, :func:`~vlmkit.storage.composer.read_metadata` reads it with
:class:`~vlmkit.storage.composer.MetadataUnpickler`, which builds only DCP's metadata dataclasses
and plain types and refuses anything else (so a planted ``.metadata`` never runs code); the
shards' non-tensor entries go through ``torch.load``, which
:func:`~vlmkit.train.resume.restricted_unpickling` forces to weights-only.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from vlmkit.storage.atomic import TMP_PREFIX, fsync_dir, publish_folder, sha256_file, write_text_atomic
from vlmkit.storage import atomic, composer
from vlmkit.storage.composer import METADATA
from vlmkit.storage.deprecated import moved_names
from vlmkit.storage.layout import StageDir

MANIFEST = "manifest.sha256"
LINE = re.compile(r"^([0-9a-f]{64})  (\S+)$")


def write_manifest(folder: Path) -> None:
    """Publish ``folder/manifest.sha256`` with the sha256 of every file in ``folder``."""
    names = sorted(n for n in os.listdir(folder) if n != MANIFEST and not n.startswith(TMP_PREFIX))
    write_text_atomic(folder / MANIFEST, "".join(f"{sha256_file(folder / n)}  {n}\n" for n in names))


def damage(folder: Path) -> str | None:
    """Why the sharded checkpoint ``folder`` cannot be trusted (no or malformed manifest, a file
    missing, added or changed), or ``None`` when it is intact."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return f"no {MANIFEST}"
    lines = manifest.read_text(errors="replace").splitlines()
    listed = dict(reversed(m.groups()) for line in lines if (m := LINE.match(line)))
    if len(listed) != len(lines) or METADATA not in listed:
        return f"{MANIFEST} is not a list of sha256 lines naming {METADATA}"
    present = {n for n in os.listdir(folder) if n != MANIFEST}
    if present != set(listed):
        return f"its files differ from {MANIFEST} (missing {sorted(set(listed) - present)}, extra {sorted(present - set(listed))})"
    changed = [n for n, digest in listed.items() if sha256_file(folder / n) != digest]
    return f"the sha256 of {', '.join(changed)} does not match {MANIFEST}" if changed else None


def save(state, folder: Path, batch: int) -> Path:
    """Every rank: write its shards of the full training state; rank 0 then publishes ``folder/ba{batch}``
    (returned on every rank)."""
    from composer.utils import dist, save_checkpoint

    final = StageDir(folder).checkpoint(batch, sharded=True)
    tmp = folder / f"{TMP_PREFIX}{final.name}"
    written = Path(save_checkpoint(state, str(tmp / "shards")))  # tmp/<prefix>/__{rank}_0.distcp; ends in a barrier
    if dist.get_global_rank() == 0:
        write_manifest(written.parent)
        fsync_dir(written.parent)
        publish_folder(written.parent, final)  # replaces one written before resuming from an older one
        shutil.rmtree(tmp)
    return final


__getattr__ = moved_names(__name__, {  # spellings from before vlmkit.storage
    "MetadataUnpickler": ("vlmkit.storage.composer.MetadataUnpickler", composer.MetadataUnpickler),
    "read_metadata": ("vlmkit.storage.composer.read_metadata", composer.read_metadata),
    "remove": ("vlmkit.storage.atomic.remove", atomic.remove),
})
