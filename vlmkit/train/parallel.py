"""Data parallelism (DDP or FSDP2) and activation checkpointing on a wrapped VLM.

Both act on *blocks*: the members of every ``nn.ModuleList`` whose members share one class
(transformer layers of the encoder and the LLM). FSDP2 units are the blocks, the three parts, and
every ``nn.Embedding`` (the VLM calls the LLM's input embedding outside the LLM's forward, so the
embedding must gather its own weights).
"""

from __future__ import annotations

from torch import nn


def blocks(module: nn.Module) -> set[nn.Module]:
    """The repeated layers inside ``module``: members of a ``ModuleList`` of two or more same-class modules."""
    found: set[nn.Module] = set()
    for m in module.modules():
        if isinstance(m, nn.ModuleList) and len(m) > 1 and len({type(c) for c in m}) == 1:
            found.update(m)
    return found


def mark_wrapping(composer_model: nn.Module) -> None:
    """Tell Composer (through ``fsdp_wrap_fn`` / ``activation_checkpointing_fn`` on the VLM, the
    wrapper's child) which modules are FSDP2 units and which get activation checkpointing."""
    vlm = composer_model.model
    layer_set = blocks(vlm)
    embeddings = {m for m in vlm.modules() if isinstance(m, nn.Embedding)}
    units = layer_set | embeddings | set(vlm.parts().values())
    vlm.fsdp_wrap_fn = lambda m: m in units
    vlm.activation_checkpointing_fn = lambda m: m in layer_set


def parallelism_config(parallelism: str, activation_checkpointing: bool):
    """Composer's ``parallelism_config``: ``None`` for DDP (Composer wraps in DDP when ``world_size > 1``),
    FSDP2 with full (monolithic) state dicts otherwise."""
    if parallelism == "ddp":
        return None
    from composer.utils.parallelism import FSDP2Config, ParallelismConfig

    cfg = FSDP2Config(state_dict_type="full", activation_checkpointing=activation_checkpointing)
    return ParallelismConfig(fsdp2=cfg)


def apply_activation_checkpointing(composer_model: nn.Module) -> None:
    """Recompute each block's activations in backward (for DDP/single-process; FSDP2 does it itself)."""
    from composer.distributed.activation_checkpointing import apply_ac, generate_composer_model_check_fn

    apply_ac(composer_model, True, False, generate_composer_model_check_fn(composer_model))
