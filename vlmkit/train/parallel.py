"""Data parallelism (DDP or FSDP2) and activation checkpointing on a wrapped VLM.

Both act on *blocks*: the ``layers()`` of the vision encoder and the LLM (their transformer
layers), and a projector's longest stack of same-class modules. FSDP2 units are the blocks, the
three parts, and every ``nn.Embedding`` (the VLM calls the LLM's input embedding outside the
LLM's forward, so the embedding must gather its own weights).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from vlmkit.model.layers import repeated_layers
from vlmkit.model.llm.base import LLMBackbone
from vlmkit.model.projectors.base import Projector
from vlmkit.model.vision.base import VisionEncoder

if TYPE_CHECKING:
    from vlmkit.train.precision import PrecisionPlan


def blocks(module: nn.Module) -> set[nn.Module]:
    """The repeated layers of every part inside ``module`` (a VLM or one part): each backbone's
    ``layers()``, each projector's :func:`~vlmkit.model.layers.repeated_layers`."""
    found: set[nn.Module] = set()
    for m in module.modules():
        if isinstance(m, (LLMBackbone, VisionEncoder)):
            found.update(m.layers())
        elif isinstance(m, Projector):
            found.update(repeated_layers(m))
    return found


def fsdp_units(vlm: nn.Module) -> set[nn.Module]:
    """The modules FSDP2 shards as units: the blocks, every embedding and the three parts."""
    return blocks(vlm) | {m for m in vlm.modules() if isinstance(m, nn.Embedding)} | set(vlm.parts().values())


def largest_unit(vlm: nn.Module) -> int:
    """Parameters FSDP2 gathers at once for the largest unit: a unit owns its parameters that no
    unit inside it owns (a part's own are e.g. the LLM's final norm and output head)."""
    units = fsdp_units(vlm)
    sizes = []
    for unit in units:
        nested = {id(p) for m in unit.modules() if m is not unit and m in units for p in m.parameters()}
        sizes.append(sum(p.numel() for p in {id(p): p for p in unit.parameters()}.values() if id(p) not in nested))
    return max(sizes)


def mark_wrapping(composer_model: nn.Module) -> None:
    """Tell Composer (through ``fsdp_wrap_fn`` / ``activation_checkpointing_fn`` on the VLM, the
    wrapper's child) which modules are FSDP2 units and which get activation checkpointing."""
    vlm = composer_model.model
    layer_set, units = blocks(vlm), fsdp_units(vlm)
    vlm.fsdp_wrap_fn = lambda m: m in units
    vlm.activation_checkpointing_fn = lambda m: m in layer_set


def parallelism_config(parallelism: str, activation_checkpointing: bool, precision: "PrecisionPlan | None" = None,
                       checkpoint_format: str = "full"):
    """Composer's ``parallelism_config``: ``None`` for DDP (Composer wraps in DDP when ``world_size > 1``),
    FSDP2 otherwise, sharding the fp32 master weights and gathering them in the compute dtype of
    ``precision`` (gradients reduced in fp32); its checkpoints' state dicts are ``checkpoint_format``
    (``"full"``: gathered, ``"sharded"``: each rank's own shards)."""
    if parallelism == "ddp":
        return None
    from composer.utils.parallelism import FSDP2Config, ParallelismConfig

    mixed = precision.fsdp_mixed_precision() if precision is not None else "DEFAULT"
    cfg = FSDP2Config(state_dict_type=checkpoint_format, activation_checkpointing=activation_checkpointing, mixed_precision=mixed)
    return ParallelismConfig(fsdp2=cfg)


def apply_activation_checkpointing(composer_model: nn.Module) -> None:
    """Recompute each block's activations in backward (for DDP/single-process; FSDP2 does it itself)."""
    from composer.distributed.activation_checkpointing import apply_ac, generate_composer_model_check_fn

    apply_ac(composer_model, True, False, generate_composer_model_check_fn(composer_model))
