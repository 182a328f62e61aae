"""QLoRA: a part's frozen Linear layers held in 4 bits by bitsandbytes (optional extra
``vlmkit[qlora]``), with LoRA adapters trained on top in fp32.

``stages.<name>.lora.<part>.quantize_base: nf4`` (or ``fp4``) quantizes every ``nn.Linear`` inside
the part's repeated blocks (the decoder layers), as QLoRA does; embeddings, norms and the output
head keep their dtype. A quantized weight takes 4 bits plus one fp32 scale per block of 64 weights
(:data:`BYTES_PER_PARAM`, 0.5625 bytes) and is dequantized blockwise in each forward to the compute
dtype; gradients flow through it to the inputs and the adapters, never into it.

Refused in one line (``vlmkit check`` and ``vlmkit train``): without bitsandbytes, on a device where
the installed bitsandbytes cannot quantize (probed once by quantizing a small tensor there: CUDA
GPUs, and CPUs from bitsandbytes 0.50), and under FSDP2 (its packed uint8
weights are not sharded here). The stage's final weights dequantize the base and fold the adapters
in (:func:`dequantized_state_dict`), so they load into the plain architecture.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch
from torch import nn

from vlmkit.train.parallel import blocks

if TYPE_CHECKING:
    from vlmkit.config import Recipe

BLOCK = 64  # weights per fp32 scale (bitsandbytes' default blocksize)
BYTES_PER_PARAM = 0.5 + 4 / BLOCK
INSTALL = "pip install 'vlmkit[qlora]'"


def _bitsandbytes(where: str):
    try:
        import bitsandbytes
    except ImportError:
        raise ValueError(f"{where}: 4-bit base weights need bitsandbytes, which is not installed; {INSTALL}, "
                         "or drop quantize_base") from None
    return bitsandbytes


@functools.cache
def _probe(device: str, quant_type: str) -> str | None:
    """Why bitsandbytes cannot quantize on ``device`` (``"cpu"``/``"gpu"``), or ``None`` when it can."""
    import bitsandbytes

    target = "cuda" if device == "gpu" else "cpu"
    if target == "cuda" and not torch.cuda.is_available():
        return "no CUDA device"
    try:
        packed, state = bitsandbytes.functional.quantize_4bit(torch.ones(BLOCK, 2, device=target), quant_type=quant_type)
        bitsandbytes.functional.dequantize_4bit(packed, state)
    except Exception as exc:  # noqa: BLE001 - any backend failure means: not here
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def check_qlora(recipe: "Recipe", stage: str, device: str) -> None:
    """``ValueError`` when a part of ``stage`` asks for ``quantize_base`` and this machine (``device``:
    ``"cpu"``/``"gpu"``) or the recipe cannot give it."""
    for part, cfg in recipe.stages[stage].lora.items():
        if cfg.quantize_base is None:
            continue
        where = f"stages.{stage}.lora.{part}.quantize_base"
        if recipe.trainer.parallelism == "fsdp2":
            raise ValueError(f"{where}: 4-bit base weights are not supported under trainer.parallelism=fsdp2; "
                             "use trainer.parallelism=ddp, or drop quantize_base")
        bnb = _bitsandbytes(where)
        if (reason := _probe(device, cfg.quantize_base)) is not None:
            raise ValueError(f"{where}: bitsandbytes {bnb.__version__} cannot quantize to {cfg.quantize_base} on this "
                             f"{device} ({reason}); train on a CUDA GPU, or drop quantize_base")


def quantizable(part: nn.Module) -> list[tuple[nn.Module, str, nn.Linear]]:
    """``(parent, attribute, layer)`` of every ``nn.Linear`` inside ``part``'s repeated blocks."""
    found = []
    for block in blocks(part):
        for parent in block.modules():
            found += [(parent, name, child) for name, child in parent.named_children() if type(child) is nn.Linear]
    return found


def bytes_saved(part: nn.Module) -> float:
    """Bytes :func:`quantize_base` saves on ``part``'s weights (works on the meta device)."""
    return sum(layer.weight.numel() * (layer.weight.element_size() - BYTES_PER_PARAM) for _, _, layer in quantizable(part))


def quantize_base(part: nn.Module, quant_type: str, device: str, compute_dtype: torch.dtype) -> int:
    """Replace ``part``'s block Linear layers by frozen bitsandbytes ``Linear4bit`` layers quantized
    on ``device`` (``"cpu"``/``"gpu"``), computing in ``compute_dtype``; returns how many."""
    bnb = _bitsandbytes("quantize_base")
    target = "cuda" if device == "gpu" else "cpu"
    found = quantizable(part)
    for parent, name, layer in found:
        q = bnb.nn.Linear4bit(layer.in_features, layer.out_features, bias=layer.bias is not None,
                              compute_dtype=compute_dtype, quant_type=quant_type)
        q.weight = bnb.nn.Params4bit(layer.weight.data, requires_grad=False, quant_type=quant_type)  # keeps its dtype
        if layer.bias is not None:
            q.bias = nn.Parameter(layer.bias.data, requires_grad=False)
        setattr(parent, name, q.to(target))  # quantizes here
    part.is_loaded_in_4bit = True  # peft then wraps these layers with its 4-bit LoRA layer
    return len(found)


def dequantized_state_dict(module: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (``module``'s full state dict) with every 4-bit weight of ``module`` replaced by its
    dequantized ``[out, in]`` tensor (in the dtype it had) under ``<layer>.weight`` (its quantization entries dropped)."""
    try:
        from bitsandbytes.functional import dequantize_4bit
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return state
    out = dict(state)
    for name, layer in module.named_modules():
        if isinstance(layer, Linear4bit):
            key = f"{name}.weight"
            for extra in [k for k in out if k.startswith(key + ".")]:
                del out[extra]
            out[key] = dequantize_4bit(layer.weight.data, layer.weight.quant_state).cpu()
    return out


def lora_4bit_classes() -> tuple[type, ...]:
    """peft's LoRA layer over a 4-bit base (empty without bitsandbytes)."""
    try:
        from peft.tuners.lora.bnb import Linear4bit
    except ImportError:
        return ()
    return (Linear4bit,)
