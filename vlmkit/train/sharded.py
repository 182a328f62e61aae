"""Sharded checkpoints (``trainer.checkpoint_format: sharded``, FSDP2): each rank writes only its
own shards through ``torch.distributed.checkpoint`` (DCP), nothing is gathered on rank 0.

Layout of one checkpoint, a folder published atomically like a ``ba{N}.pt`` file::

    ba{N}/__{rank}_0.distcp   rank ``rank``'s shards of the model and optimizer state
    ba{N}/.metadata           DCP's index of the shards (a pickle)
    ba{N}/manifest.sha256     sha256 of every other file (``sha256sum`` format), written last

Every rank writes into ``.tmp-ba{N}/``; after all ranks finished, rank 0 writes the manifest and
renames the folder to ``ba{N}`` (one ``rename``: the checkpoint exists complete or not at all).

DCP reads ``.metadata`` with a plain ``pickle.load``, which torch's weights-only switch does not
cover. Before DCP sees it, :func:`read_metadata` reads it with :class:`MetadataUnpickler`, which
builds only DCP's metadata dataclasses and plain types and refuses anything else (so a planted
``.metadata`` never runs code); the shards' non-tensor entries go through ``torch.load``, which
:func:`~vlmkit.train.resume.restricted_unpickling` forces to weights-only.
"""

from __future__ import annotations

import functools
import os
import pickle
import re
import shutil
from pathlib import Path

from vlmkit.train import checkpoint as ckpt

MANIFEST = "manifest.sha256"
METADATA = ".metadata"
LINE = re.compile(r"^([0-9a-f]{64})  (\S+)$")


def write_manifest(folder: Path) -> None:
    """Publish ``folder/manifest.sha256`` with the sha256 of every file in ``folder``."""
    names = sorted(n for n in os.listdir(folder) if n != MANIFEST and not n.startswith(".tmp-"))
    text = "".join(f"{ckpt.sha256_file(folder / n)}  {n}\n" for n in names)
    ckpt.write_atomic(folder / MANIFEST, lambda tmp: tmp.write_text(text))


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
    changed = [n for n, digest in listed.items() if ckpt.sha256_file(folder / n) != digest]
    return f"the sha256 of {', '.join(changed)} does not match {MANIFEST}" if changed else None


@functools.cache
def _allowed() -> dict[tuple[str, str], object]:
    """(module, name) -> object of every global a DCP ``.metadata`` may name."""
    import collections
    import pathlib

    import torch
    from torch.distributed.checkpoint import filesystem, metadata

    dcp = [getattr(metadata, n, None) for n in (
        "Metadata", "StorageMeta", "MetadataIndex", "TensorProperties", "TensorStorageMetadata",
        "BytesStorageMetadata", "ChunkStorageMetadata", "_MEM_FORMAT_ENCODING")]  # some are absent in older torch
    classes = [*dcp, getattr(filesystem, "_StorageInfo", None), torch.Size, collections.OrderedDict,
               pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath, pathlib.PureWindowsPath]
    found = {(c.__module__, c.__qualname__): c for c in classes if c is not None}
    if (get_layout := getattr(torch.serialization, "_get_layout", None)) is not None:  # a layout by its name
        found[("torch.serialization", "_get_layout")] = get_layout
    for value in vars(torch).values():  # dtypes, layouts and memory formats pickle as torch.<name>
        if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
            found[("torch", str(value).removeprefix("torch."))] = value
    return found


class MetadataUnpickler(pickle.Unpickler):
    """Unpickles a DCP ``.metadata``: its dataclasses, ``torch.Size``, dtypes and builtins' plain
    containers; any other global raises :class:`pickle.UnpicklingError` naming it."""

    def find_class(self, module: str, name: str):
        if (module, name) in (allowed := _allowed()):
            return allowed[(module, name)]
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a checkpoint index")


def read_metadata(folder: Path):
    """``folder/.metadata`` as DCP's ``Metadata``, read by :class:`MetadataUnpickler`;
    ``pickle.UnpicklingError`` when it names anything else or is not a ``Metadata``."""
    from torch.distributed.checkpoint.metadata import Metadata

    with open(folder / METADATA, "rb") as f:
        try:
            value = MetadataUnpickler(f).load()
        except (EOFError, ValueError, TypeError, AttributeError) as exc:
            raise pickle.UnpicklingError(f"{METADATA} is not a checkpoint index ({exc})") from None
    if not isinstance(value, Metadata):
        raise pickle.UnpicklingError(f"{METADATA} holds a {type(value).__name__}, not a checkpoint index")
    return value


def remove(path: Path) -> None:
    """Delete a checkpoint, file or sharded folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def save(state, folder: Path, batch: int) -> Path:
    """Every rank: write its shards of the full training state; rank 0 then publishes ``folder/ba{batch}``
    (returned on every rank)."""
    from composer.utils import dist, save_checkpoint

    tmp, final = folder / f".tmp-ba{batch}", folder / f"ba{batch}"
    written = Path(save_checkpoint(state, str(tmp / "shards")))  # tmp/<prefix>/__{rank}_0.distcp; ends in a barrier
    if dist.get_global_rank() == 0:
        write_manifest(written.parent)
        ckpt.fsync_dir(written.parent)
        if final.exists():  # written again after resuming from an older one
            old = folder / f".tmp-old-ba{batch}"
            os.replace(final, old)
            shutil.rmtree(old)
        os.replace(written.parent, final)
        ckpt.fsync_dir(folder)
        shutil.rmtree(tmp)
    return final
