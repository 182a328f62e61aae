"""Reading Composer checkpoints without unpickling code: a ``ba{N}.pt`` file or a sharded
``ba{N}/`` folder (``torch.distributed.checkpoint``, DCP) from ``vlmkit train``.

- ``ba{N}.pt`` is read with ``torch.load(weights_only=True)`` and :func:`composer_safe_globals`,
  the plain data types Composer stores besides tensors; anything else is refused before it exists.
- A sharded folder's ``.metadata`` index is a pickle DCP reads with a plain ``pickle.load``; it is
  read first by :class:`MetadataUnpickler`, which builds only DCP's metadata classes and plain
  types. The model's tensors are then read from the shards (DCP reads tensors weights-only), in
  one process, without a process group.
"""

from __future__ import annotations

import datetime
import functools
import pickle
from pathlib import Path

import torch

COMPOSER_PREFIX = "model."  # Composer stores the VLM under its wrapper's ``model`` attribute
SHARDED_MODEL_PREFIX = "state.model."  # the model's keys in a sharded checkpoint's flat index
METADATA = ".metadata"  # a sharded checkpoint's index of its shards


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


def read_checkpoint_model(path: Path) -> dict[str, torch.Tensor]:
    """The VLM's state dict in a Composer checkpoint: a ``ba{N}.pt`` file or a sharded ``ba{N}/``
    folder. ``ValueError`` naming ``path`` when it is unreadable, holds no model or holds code."""
    if path.is_dir():
        return read_sharded_model(path)
    with torch.serialization.safe_globals(composer_safe_globals()):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling refused or a torn file: say which and stop
            raise ValueError(f"{path}: not a readable Composer checkpoint ({unpickling_reason(exc)})") from None
    model = state.get("state", {}).get("model") if isinstance(state, dict) else None
    if not isinstance(model, dict):
        raise ValueError(f"{path}: no model state found (expected a Composer checkpoint from vlmkit train)")
    return {k.removeprefix(COMPOSER_PREFIX): v for k, v in model.items()}


def read_sharded_model(folder: Path) -> dict[str, torch.Tensor]:
    """The VLM's full (unsharded) state dict from a sharded checkpoint folder, read in this process."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    try:
        index = read_metadata(folder)
    except (OSError, pickle.UnpicklingError) as exc:
        raise ValueError(f"{folder}: not a readable sharded checkpoint ({exc})") from None
    wanted = {key: torch.empty(md.size, dtype=md.properties.dtype) for key, md in index.state_dict_metadata.items()
              if key.startswith(SHARDED_MODEL_PREFIX) and isinstance(md, TensorStorageMetadata)}
    if not wanted:
        raise ValueError(f"{folder}: no model state found (expected a sharded checkpoint from vlmkit train)")
    try:
        dcp.load(wanted, storage_reader=dcp.FileSystemReader(str(folder)), no_dist=True)
    except (Exception, CheckpointException) as exc:  # a missing or cut shard (DCP wraps what failed)
        causes = [cause for cause, _ in exc.failures.values()] if isinstance(exc, CheckpointException) else [exc]
        reason = "; ".join(f"{type(c).__name__}: {c}" if str(c) else type(c).__name__ for c in causes)
        raise ValueError(f"{folder}: not a readable sharded checkpoint (a shard is missing or damaged: {reason})") from None
    return {k.removeprefix(SHARDED_MODEL_PREFIX).removeprefix(COMPOSER_PREFIX): v for k, v in wanted.items()}


@functools.cache
def _allowed() -> dict[tuple[str, str], object]:
    """(module, name) -> object of every global a DCP ``.metadata`` may name."""
    import collections
    import pathlib

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
