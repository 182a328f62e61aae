"""Weights to and from safetensors files: the one format vlmkit writes weights in.

A tensor that shares memory with an earlier one (tied weights, such as an LLM's input and output
embeddings) is stored once; the file's metadata maps each dropped name to the kept one
(``alias:<name> = <kept>``) and :func:`read_state_dict` gives the tied name the kept tensor again,
so every name of the state dict comes back. Reading never unpickles anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from vlmkit.storage.atomic import write_atomic

ALIAS = "alias:"  # metadata key prefix: alias:<dropped name> = <kept name>


def _alias_key(t: torch.Tensor) -> tuple:
    """(device, storage) first; empty tensors have no memory to share, so each gets its own key."""
    where = t.untyped_storage().data_ptr() if t.numel() else id(t)
    return (t.device.type, where, t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)


def unique_tensors(tensors: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(kept, aliases)``: ``tensors`` (detached, contiguous, on the CPU) with each tensor that is
    the same view of the same memory as an earlier one kept once under its first name, and
    ``{dropped name: kept name}``. Other views of memory already kept are copied (safetensors
    stores no overlapping tensors)."""
    kept: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    storages: set[tuple] = set()
    for name, t in tensors.items():
        key = _alias_key(t)
        if key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        kept[name] = t.detach().cpu().contiguous()
        if key[:2] in storages:
            kept[name] = kept[name].clone()
        storages.add(key[:2])
    return kept, aliases


def save_state_dict(tensors: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Write ``tensors`` (name -> tensor) as safetensors at ``path``, atomically, tied tensors once."""
    from safetensors.torch import save_file

    kept, aliases = unique_tensors(tensors)
    metadata = {"format": "pt", **{f"{ALIAS}{k}": v for k, v in aliases.items()}}
    write_atomic(Path(path), lambda tmp: save_file(kept, str(tmp), metadata=metadata))


def save_weights(module: nn.Module, path: str | os.PathLike) -> None:
    """Write ``module``'s state dict to ``path`` (``.safetensors``); see :func:`save_state_dict`."""
    save_state_dict(module.state_dict(), path)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every name -> tensor of a safetensors file, tied names included (they get the kept tensor).
    ``FileNotFoundError`` when there is no file, ``ValueError`` naming it when it is damaged."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except SafetensorError as exc:  # truncated, empty or not safetensors at all
        raise ValueError(f"{path}: not a readable safetensors file ({exc}); it is damaged: write it again") from None
    for key, kept in metadata.items():
        if key.startswith(ALIAS) and kept in tensors:
            tensors[key.removeprefix(ALIAS)] = tensors[kept]
    return tensors


def check_not_meta(module: nn.Module, source: object) -> None:
    """``ValueError`` when ``module`` has weights on the meta device (loading into them would do nothing)."""
    meta = [n for n, t in module.state_dict().items() if t.is_meta]
    if meta:
        raise ValueError(
            f"cannot load {source} into a {type(module).__name__} whose weights are on the meta device "
            f"({meta[0]}, ...: built with load_weights=False); build it with load_weights=True, then load"
        )


def load_strict(module: nn.Module, tensors: Mapping[str, torch.Tensor], source: object, hint: str) -> None:
    """Load ``tensors`` into ``module``; ``ValueError`` naming ``source``, the first mismatching keys and ``hint``."""
    check_not_meta(module, source)
    missing, unexpected = module.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise ValueError(f"{source}: weights do not match the {type(module).__name__} built from the config "
                         f"(missing {missing[:5]}, unexpected {unexpected[:5]}); {hint}")


def load_weights(module: nn.Module, path: str | os.PathLike) -> None:
    """Load a safetensors file into ``module`` strictly: every key must match (tied names count as
    present). ``ValueError`` naming the mismatching keys, or when ``module`` is on the meta device."""
    check_not_meta(module, path)
    load_strict(module, read_state_dict(path), path, "was it saved from a different architecture?")
