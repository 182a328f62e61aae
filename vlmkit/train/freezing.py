"""Per-stage freezing (VILA's ``tune_*`` flags) and per-part optimizer parameter groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from torch import nn

if TYPE_CHECKING:
    from vlmkit.config import OptimizerConfig
    from vlmkit.model.llm.base import LLMBackbone
    from vlmkit.model.vlm import VisionLanguageModel

PARTS = ("vision_encoder", "projector", "llm")


def check_parts(model: "VisionLanguageModel", parts: Iterable[str]) -> None:
    """Raise ``ValueError`` when a named part is not one of the model's parts."""
    own = set(model.parts())
    bad = [p for p in parts if p not in own]
    if bad:
        raise ValueError(f"trainable parts {bad} are not parts of the model; use some of: {', '.join(sorted(own))}")


def set_trainable(model: "VisionLanguageModel", trainable: Iterable[str], llm_layers: int | None = None) -> dict[str, bool]:
    """Freeze every part not in ``trainable`` (``requires_grad=False``), unfreeze the others.

    ``llm_layers`` (a stage's ``llm_trainable_layers``): when the LLM is trained, only its last
    ``llm_layers`` decoder layers are (see :func:`train_last_layers`). Returns ``{part: trainable}``.
    A frozen part also goes to eval mode on every ``train()`` call through
    :func:`keep_frozen_in_eval`, so its dropout/batch-norm statistics do not change.
    """
    trainable = list(trainable)
    check_parts(model, trainable)
    flags = {}
    for name, part in model.parts().items():
        flags[name] = name in trainable
        part.requires_grad_(flags[name])
    if llm_layers is not None and flags.get("llm"):
        train_last_layers(model.llm, llm_layers)
    return flags


def layer_stack(llm: "LLMBackbone") -> nn.ModuleList:
    """``llm.layers()``, its decoder layers; ``ValueError`` when it has none."""
    layers = llm.layers()
    if not len(layers):
        raise ValueError(f"{type(llm).__name__} has no stack of layers, so llm_trainable_layers cannot apply; remove it")
    return layers


def train_last_layers(module: "LLMBackbone", count: int) -> None:
    """Freeze all of ``module`` except the last ``count`` layers of its :func:`layer_stack`
    (embeddings, final norm and output head stay frozen)."""
    layers = layer_stack(module)
    if not 0 < count <= len(layers):
        raise ValueError(f"llm_trainable_layers is {count}, but the LLM has {len(layers)} layers; use 1..{len(layers)}")
    module.requires_grad_(False)
    for layer in layers[len(layers) - count:]:
        layer.requires_grad_(True)


def keep_frozen_in_eval(model: "VisionLanguageModel") -> None:
    """Put every fully frozen part in eval mode (call after ``model.train()``)."""
    for part in model.parts().values():
        if not any(p.requires_grad for p in part.parameters()):
            part.eval()


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Parameter count, each shared (tied) tensor counted once."""
    seen: set[int] = set()
    total = 0
    for p in module.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def param_groups(model: "VisionLanguageModel", optimizer: "OptimizerConfig") -> list[dict]:
    """One optimizer group per part that has trainable parameters, ``lr = optimizer.lr x multiplier``.

    Frozen parameters are left out, so they get no optimizer state. Each group carries its part
    name under ``"part"``. Raises ``ValueError`` when nothing is trainable or a multiplier names a
    part that is frozen.
    """
    groups = []
    for name, part in model.parts().items():
        params = trainable_parameters(part)
        if params:
            scale = optimizer.lr_multipliers.get(name, 1.0)
            groups.append({"params": params, "lr": optimizer.lr * scale, "part": name})
    if not groups:
        raise ValueError("no trainable parameters: list at least one part under the stage's 'trainable'")
    trained = {g["part"] for g in groups}
    idle = [p for p in optimizer.lr_multipliers if p not in trained]
    if idle:
        raise ValueError(
            f"optimizer.lr_multipliers names {idle}, which are frozen in this stage; "
            f"remove them or add them to 'trainable'"
        )
    return groups
