"""Module weights to and from safetensors files, with tied (shared) tensors stored once.

Only safetensors is written or read here: loading never unpickles anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn


def _alias_key(t: torch.Tensor) -> tuple:
    return (t.device.type, t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()))


def unique_state_dict(module: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, aliases)``: the state dict with each shared tensor kept once under its first name,
    and ``{alias_name: kept_name}`` for the names dropped."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, t in module.state_dict().items():
        key = _alias_key(t)
        if key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        tensors[name] = t.detach().cpu().contiguous()
    return tensors, aliases


def save_weights(module: nn.Module, path: str | os.PathLike) -> None:
    """Write ``module``'s weights to ``path`` (``.safetensors``), tied tensors once."""
    from safetensors.torch import save_file

    tensors, aliases = unique_state_dict(module)
    metadata = {"format": "pt", **{f"alias:{k}": v for k, v in aliases.items()}}
    save_file(tensors, str(path), metadata=metadata)


def load_weights(module: nn.Module, path: str | os.PathLike) -> None:
    """Load a :func:`save_weights` file into ``module`` strictly: every key must match, except
    tied names that alias a loaded tensor. Raises ``ValueError`` naming the mismatching keys, or
    when ``module`` is on the meta device (loading into meta tensors would silently do nothing)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    meta = [n for n, t in module.state_dict().items() if t.is_meta]
    if meta:
        raise ValueError(
            f"cannot load {path} into a {type(module).__name__} whose weights are on the meta device "
            f"({meta[0]}, ...: built with load_weights=False); build it with load_weights=True, then load"
        )
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except SafetensorError as exc:  # truncated, empty or not safetensors at all
        raise ValueError(f"{path}: not a readable safetensors file ({exc}); it is damaged: write it again") from None
    aliases = {k.removeprefix("alias:"): v for k, v in meta.items() if k.startswith("alias:")}
    missing, unexpected = module.load_state_dict(tensors, strict=False)
    state = module.state_dict(keep_vars=True)
    really_missing = [k for k in missing if not (k in aliases and state[k] is state.get(aliases[k]))]
    if unexpected or really_missing:
        raise ValueError(
            f"{path}: weights do not match the {type(module).__name__} built from the config "
            f"(missing {really_missing[:5]}, unexpected {unexpected[:5]}); was it saved from a different architecture?"
        )


def build_and_load(config, path: str | os.PathLike):
    """A :class:`~vlmkit.model.vlm.VisionLanguageModel` built from ``config`` (a recipe's ``model:``)
    holding the weights saved at ``path``.

    Parts that build without weights as real (randomly initialised) tensors are built that way; a
    model with any part on the meta device is rebuilt with its pretrained weights first, since meta
    tensors cannot be filled in place (their non-persistent buffers, e.g. rotary frequencies, would
    stay empty).
    """
    from vlmkit.model.vlm import build_vlm

    model = build_vlm(config, load_weights=False)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        model = build_vlm(config, load_weights=True)
    load_weights(model, path)
    return model
