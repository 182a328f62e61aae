"""LoRA adapters on model parts through peft (optional extra ``vlmkit[lora]``), merged back at the end.

Under FSDP2 the adapters are sharded with the block they sit in (frozen base weights and trainable
adapters share a unit); a stage's final weights are merged from the gathered state dict
(:func:`merged_state_dict`), so sharded layers are never merged in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from vlmkit.config import LoraConfig
    from vlmkit.model.vlm import VisionLanguageModel


def _peft():
    try:
        import peft
    except ImportError:
        raise ValueError("the stage asks for LoRA ('lora:'), which needs peft: pip install 'vlmkit[lora]'") from None
    return peft


def add_lora(model: "VisionLanguageModel", lora: dict[str, "LoraConfig"], trainable: list[str], device: str = "cpu",
             compute_dtype: torch.dtype = torch.float32) -> None:
    """Inject adapters into each part named in ``lora`` (in place); its base weights are frozen and
    only the adapters train. Each part must also be listed as trainable. A part with
    ``quantize_base`` first has its block Linear layers quantized to 4 bits on ``device``
    (``"cpu"``/``"gpu"``), computing in ``compute_dtype`` (:mod:`vlmkit.train.qlora`)."""
    if not lora:
        return
    peft = _peft()
    idle = [p for p in lora if p not in trainable]
    if idle:
        raise ValueError(f"lora is set for {idle}, which are not trainable in this stage; add them to 'trainable' or drop their lora")
    for name, cfg in lora.items():
        part = getattr(model, name)
        part.requires_grad_(False)
        if cfg.quantize_base is not None:
            from vlmkit.train.qlora import quantize_base

            quantize_base(part, cfg.quantize_base, device, compute_dtype)
        config = peft.LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=list(cfg.targets))
        try:
            peft.inject_adapter_in_model(config, part)
        except ValueError as exc:
            raise ValueError(f"lora.{name}.targets {cfg.targets} match no layer of the {name}: {exc}") from None


def merge_lora(module: nn.Module) -> int:
    """Fold every LoRA adapter inside ``module`` into its base layer and put the base layer back in
    its place; returns how many layers were merged. The module then has its original structure."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return 0
    merged = 0
    for parent in list(module.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, BaseTunerLayer):
                child.merge()
                setattr(parent, child_name, child.get_base_layer())
                merged += 1
    return merged


def merged_state_dict(module: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (the full state dict of ``module``, e.g. gathered from FSDP2 shards; empty on the
    ranks that receive none) with every LoRA adapter of ``module`` folded into its base weight,
    ``W + scaling x B @ A`` computed in fp32 and stored in ``W``'s dtype, under the plain
    architecture's keys (``q_proj.weight`` for ``q_proj.base_layer.weight``)."""
    try:
        from peft.tuners.lora import Linear as LoraLinear
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return state
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import _CHECKPOINT_PREFIX

    from vlmkit.train.qlora import dequantized_state_dict, lora_4bit_classes

    if not state:
        return state
    out = dequantized_state_dict(module, state)  # 4-bit base weights (quantize_base) as plain tensors
    plain = (LoraLinear, *lora_4bit_classes())
    for name, layer in module.named_modules():
        if not isinstance(layer, BaseTunerLayer):
            continue
        if not isinstance(layer, plain) or layer.fan_in_fan_out or any(layer.use_dora.values()):
            raise ValueError(f"cannot merge the adapter of {name} ({type(layer).__name__}): only plain LoRA on Linear layers is supported; "
                             "target Linear layers (q_proj, v_proj, ...)")
        name = name.replace(_CHECKPOINT_PREFIX, "")  # state dict keys leave activation-checkpoint wrappers out
        base = f"{name}.base_layer."
        weight = out.pop(base + "weight")
        delta = sum(layer.scaling[a] * (out.pop(f"{name}.lora_B.{a}.weight").float() @ out.pop(f"{name}.lora_A.{a}.weight").float())
                    for a in list(layer.lora_A))
        out[f"{name}.weight"] = (weight.float() + delta).to(weight.dtype)
        for key in [k for k in out if k.startswith(base)]:  # the bias
            out[f"{name}.{key[len(base):]}"] = out.pop(key)
    return out
