"""Peak FLOP rates MFU is measured against: a GPU's datasheet dense rate (Composer's table, which
tells H100 SXM from PCIe), or on the CPU a dense matmul measured robustly in this process.

The CPU peak is the best of several short runs (a single short run under load reads low, and MFU
then shows above 100%), cached per dtype and thread count, and remeasured when the thread count
changes. :class:`Peak` carries the rate and a sentence saying where it came from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace

import torch

# Composer's precision names for a matmul dtype (the keys of its GPU_AVAILABLE_FLOPS rows).
COMPOSER_PRECISION = {torch.bfloat16: "amp_bf16", torch.float16: "amp_fp16", torch.float32: "fp32"}


@dataclass(frozen=True)
class Peak:
    """A per-process peak rate ``flops`` (FLOP/s) and ``source``, how it was obtained."""

    flops: float
    source: str

    def __str__(self) -> str:
        return f"{self.flops / 1e9:.1f} GFLOP/s ({self.source})"


def matmul_flops(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, n: int = 1024, seconds: float = 0.5) -> float:
    """Measured FLOP/s of repeated ``n x n @ n x n`` matmuls on ``device`` in ``dtype`` (the best
    chunk of doubling repeat counts within ``seconds``, after one warm-up), in this process with its
    current thread settings."""
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


_CPU_PEAKS: dict[tuple[torch.dtype, int], Peak] = {}


def matmul_size(dtype: torch.dtype, seconds: float = 0.03, largest: int = 1024) -> int:
    """The matmul size (a multiple of 64, 128 to ``largest``) one product of which takes about
    ``seconds`` on this CPU in ``dtype``: 1024 for fp32 on most machines, smaller where ``dtype`` is
    emulated (bf16 on AVX2-only CPUs runs ~30x slower), so measuring stays well under a second."""
    rate = matmul_flops("cpu", dtype, n=128, seconds=0.005)
    n = int((rate * seconds / 2) ** (1 / 3)) // 64 * 64
    return max(128, min(largest, n))


def cpu_peak(dtype: torch.dtype = torch.float32, runs: int = 5, n: int | None = None, seconds: float = 0.06) -> Peak:
    """Best of ``runs`` short matmul measurements on the CPU in ``dtype`` (size ``n``, default
    :func:`matmul_size`), cached per ``(dtype, torch.get_num_threads())``: a rerun in the same
    process costs nothing, a new thread count measures again."""
    threads = torch.get_num_threads()
    key = (dtype, threads)
    if key not in _CPU_PEAKS:
        n = n or matmul_size(dtype)
        best = max(matmul_flops("cpu", dtype, n=n, seconds=seconds) for _ in range(runs))
        name = str(dtype).removeprefix("torch.")
        source = f"{name} {n}x{n} matmul measured now, best of {runs} runs, {threads} thread{'s' * (threads != 1)}"
        _CPU_PEAKS[key] = Peak(best, source)
    return _CPU_PEAKS[key]


def datasheet_peak(dtype: torch.dtype = torch.bfloat16) -> Peak | None:
    """Dense datasheet peak of the visible GPU for ``dtype`` from Composer's table, or ``None`` when
    there is no GPU or the table does not know it."""
    if not torch.cuda.is_available() or dtype not in COMPOSER_PRECISION:
        return None
    from composer.callbacks.speed_monitor import get_gpu_flops_available

    precision = COMPOSER_PRECISION[dtype]
    flops = get_gpu_flops_available(SimpleNamespace(precision=SimpleNamespace(value=precision)))
    if not flops:
        return None
    return Peak(float(flops), f"datasheet dense {precision} peak of {torch.cuda.get_device_name()} (Composer's table)")


def cpu_bf16_speed() -> float:
    """bf16 / fp32 matmul rate on this CPU (about 2 with native bf16 units; far below 1 where
    bf16 is emulated, e.g. AVX2-only CPUs, where ``trainer.precision=bf16`` slows training down),
    from the cached :func:`cpu_peak` measurements."""
    return cpu_peak(torch.bfloat16).flops / cpu_peak(torch.float32).flops
