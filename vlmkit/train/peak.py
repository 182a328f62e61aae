"""Peak FLOP rates MFU is measured against: a measured dense matmul on this device, or a GPU's
datasheet dense rate."""

from __future__ import annotations

import time

import torch

# Dense (no sparsity) datasheet peaks, FLOP/s.
DATASHEET = {
    ("h100", torch.bfloat16): 989e12,
    ("h100", torch.float16): 989e12,
    ("h100", torch.float32): 67e12,
    ("h200", torch.bfloat16): 989e12,
    ("h200", torch.float32): 67e12,
    ("a100", torch.bfloat16): 312e12,
    ("a100", torch.float32): 19.5e12,
}


def matmul_flops(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, n: int = 1024, seconds: float = 0.5) -> float:
    """Measured FLOP/s of repeated ``n x n @ n x n`` matmuls on ``device`` in ``dtype`` (best of a few
    repeats, after one warm-up), in this process with its current thread settings."""
    device = torch.device(device)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a @ b
    sync()
    best, spent = 0.0, 0.0
    reps = 1
    while spent < seconds:
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync()
        dt = time.perf_counter() - t0
        spent += dt
        best = max(best, 2 * n**3 * reps / dt)
        reps = min(reps * 2, 64)
    return best


def datasheet_peak(dtype: torch.dtype = torch.bfloat16) -> float | None:
    """Dense datasheet peak of the visible GPU for ``dtype``, or ``None`` when unknown or no GPU."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name().lower()
    for (family, dt), flops in DATASHEET.items():
        if family in name and dt == dtype:
            return flops
    return None


def cpu_bf16_speed(n: int = 512) -> float:
    """bf16 / fp32 matmul rate on this CPU (about 2 with native bf16 units; far below 1 where
    bf16 is emulated, e.g. AVX2-only CPUs, where ``trainer.precision=bf16`` slows training down)."""
    return matmul_flops("cpu", torch.bfloat16, n=n, seconds=0.1) / matmul_flops("cpu", torch.float32, n=n, seconds=0.1)
