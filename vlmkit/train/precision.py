"""Device and precision: what the recipe asks for, mapped to what Composer and the device accept."""

from __future__ import annotations

from dataclasses import dataclass

import torch

REFUSED = {
    ("amp_bf16", "cpu"): "trainer.precision=amp_bf16 needs a GPU (Composer refuses it on the CPU); use 'bf16' (bfloat16 autocast on the CPU) or 'fp32'",
    ("amp_fp16", "cpu"): "trainer.precision=amp_fp16 needs a GPU; on the CPU use 'bf16' (bfloat16 autocast) or 'fp32'",
}
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
    def param_bytes(self) -> int:
        return 4  # master weights stay fp32 under every mixed precision here

    @property
    def activation_bytes(self) -> int:
        return 4 if self.composer == "fp32" and self.autocast is None else 2


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
