"""Device and precision: what the recipe asks for, mapped to what Composer and the device accept.

Mixed precision keeps **fp32 master weights**: every trainable parameter is held (and updated by
the optimizer) in fp32, while the forward and backward run in the compute dtype (bf16 autocast,
or FSDP2 gathering bf16 copies of the fp32 shards and reducing gradients in fp32). A part loaded
in 16 bits (``torch_dtype: bfloat16``) is upcast when it trains; a frozen part stays as loaded.
Updating bf16 weights directly would round away every step smaller than bf16's resolution
(about 0.4% of the weight): at VILA's learning rates (2e-5) that is most of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torch import nn

    from vlmkit.config import Recipe

REFUSED = {
    ("amp_bf16", "cpu"): "trainer.precision=amp_bf16 needs a GPU (Composer refuses it on the CPU); use 'bf16' (bfloat16 autocast on the CPU) or 'fp32'",
    ("amp_fp16", "cpu"): "trainer.precision=amp_fp16 needs a GPU; on the CPU use 'bf16' (bfloat16 autocast) or 'fp32'",
}
COMPUTE = {"fp32": torch.float32, "amp_bf16": torch.bfloat16, "amp_fp16": torch.float16}
# (recipe precision, device) -> (Composer precision, CPU autocast dtype)
ACCEPTED: dict[tuple[str, str], tuple[str, torch.dtype | None]] = {
    ("fp32", "cpu"): ("fp32", None),
    ("fp32", "gpu"): ("fp32", None),
    ("bf16", "cpu"): ("fp32", torch.bfloat16),
    ("bf16", "gpu"): ("amp_bf16", None),
    ("amp_bf16", "gpu"): ("amp_bf16", None),
    ("amp_fp16", "gpu"): ("amp_fp16", None),
}


@dataclass(frozen=True)
class PrecisionPlan:
    """``composer``: Composer's precision string; ``autocast``: dtype of the CPU autocast, if any."""

    device: str
    composer: str
    autocast: torch.dtype | None

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype matmuls run in: the CPU autocast dtype, or Composer's AMP dtype."""
        return self.autocast or COMPUTE[self.composer]

    @property
    def activation_bytes(self) -> int:
        return self.compute_dtype.itemsize

    @property
    def gather_dtype(self) -> torch.dtype:
        """The dtype FSDP2 gathers parameters in: Composer's AMP dtype (fp32 on the CPU, where
        autocast casts the gathered weights instead)."""
        return COMPUTE[self.composer]

    def fsdp_mixed_precision(self) -> dict[str, str]:
        """FSDP2's ``MixedPrecisionPolicy`` as Composer takes it: parameters gathered in
        :attr:`gather_dtype`, gradients reduced in fp32 (the master weights' dtype)."""
        return {"param_dtype": dtype_name(self.gather_dtype), "reduce_dtype": "float32"}


def resolve_device(requested: str) -> str:
    """``"auto"`` -> ``"gpu"`` when CUDA is available, else ``"cpu"``; ``"gpu"`` without CUDA is an error."""
    if requested == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if requested == "gpu" and not torch.cuda.is_available():
        raise ValueError("trainer.device=gpu but no CUDA device is visible; use trainer.device=cpu or auto")
    return requested


def resolve_precision(precision: str, device: str, check_device: bool = True) -> PrecisionPlan:
    """Map ``trainer.precision`` on ``device`` to a :class:`PrecisionPlan`; raise ``ValueError`` where refused."""
    if (precision, device) in REFUSED:
        raise ValueError(REFUSED[(precision, device)])
    composer, autocast = ACCEPTED[(precision, device)]
    if check_device and composer == "amp_bf16" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"trainer.precision={precision}: this GPU has no bfloat16 support; use 'amp_fp16' or 'fp32'")
    return PrecisionPlan(device, composer, autocast)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def master_dtype(param: torch.Tensor) -> torch.dtype:
    """The dtype ``param`` is held in while training: fp32 when it trains, its own dtype when frozen."""
    return torch.float32 if param.requires_grad and param.is_floating_point() else param.dtype


def unique_parameters(module: "nn.Module") -> list["nn.Parameter"]:
    """Parameters of ``module``, each shared (tied) tensor once."""
    return list({id(p): p for p in module.parameters()}.values())


def keep_master_weights(module: "nn.Module") -> int:
    """Hold every trainable parameter of ``module`` in fp32, in place (tied parameters stay tied,
    frozen ones keep their dtype); returns how many parameter elements were upcast. Call after
    freezing and LoRA, before the trainer wraps the model."""
    upcast = 0
    for p in unique_parameters(module):
        if master_dtype(p) != p.dtype:
            p.data = p.data.to(master_dtype(p))
            upcast += p.numel()
    return upcast


def check_trainable_dtypes(recipe: "Recipe", stage: str, plan: PrecisionPlan) -> None:
    """Refuse a part that trains in ``stage`` (LoRA parts train adapters only) with a 16-bit
    ``torch_dtype`` when the compute is fp32: the recipe asked for 16-bit compute, which only
    ``trainer.precision`` gives. Weights that load in 16 bits unasked (a checkpoint's own dtype)
    are upcast and computed in fp32 as the precision says."""
    from vlmkit.model.hf_loading import parse_dtype

    if plan.compute_dtype != torch.float32:
        return
    cfg = recipe.stages[stage]
    for name in cfg.trainable:
        asked = getattr(recipe.model, name).options().get("torch_dtype")
        dtype = parse_dtype(asked) if isinstance(asked, str) else None
        if name not in cfg.lora and isinstance(dtype, torch.dtype) and dtype.itemsize < 4:
            fix = "amp_bf16" if plan.device == "gpu" else "bf16"
            raise ValueError(
                f"stages.{stage} trains model.{name}, whose torch_dtype is {asked}, but trainer.precision computes in "
                f"fp32; trained weights are held in fp32 either way, so set trainer.precision: {fix} for 16-bit "
                f"compute, or drop model.{name}.torch_dtype for fp32 compute"
            )
