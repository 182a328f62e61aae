"""LoRA adapters on model parts through peft (optional extra ``vlmkit[lora]``), merged back at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def add_lora(model: "VisionLanguageModel", lora: dict[str, "LoraConfig"], trainable: list[str]) -> None:
    """Inject adapters into each part named in ``lora`` (in place); its base weights are frozen and
    only the adapters train. Each part must also be listed as trainable."""
    if not lora:
        return
    peft = _peft()
    idle = [p for p in lora if p not in trainable]
    if idle:
        raise ValueError(f"lora is set for {idle}, which are not trainable in this stage; add them to 'trainable' or drop their lora")
    for name, cfg in lora.items():
        part = getattr(model, name)
        part.requires_grad_(False)
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
