"""The embedded encoder's pixel layout: channels-last (what ``TimmEncoder`` feeds a CNN) vs NCHW.

EfficientNet-Lite0 at 128 px (the embedded default's encoder), frozen, ``--batch`` images, best of
``--repeats`` forward passes of each layout in this process, same weights and inputs; also prints
the largest difference between the two outputs.

    python benchmarks/encoder_layout.py [--batch 64] [--repeats 3] [--threads 1]

Ends with ``ratio: X`` = NCHW seconds / channels-last seconds (above 1: channels-last is faster).
"""

from __future__ import annotations

import argparse
import time

import torch

from vlmkit.model.vision.efficientnet_lite0 import efficientnet_lite0
from vlmkit.train.peak import matmul_flops


def best_seconds(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    encoder = efficientnet_lite0().eval()
    pixels = torch.randn(args.batch, 3, 128, 128)
    print(f"fp32 matmul: {matmul_flops() / 1e9:.1f} GFLOP/s on {torch.get_num_threads()} threads")
    with torch.no_grad():
        fast = encoder(pixels)  # TimmEncoder: channels-last inside
        encoder.channels_last = False
        plain = encoder(pixels)
        nchw = best_seconds(lambda: encoder(pixels), args.repeats)
        encoder.channels_last = True
        last = best_seconds(lambda: encoder(pixels), args.repeats)
    print(f"NCHW: {nchw / args.batch * 1e3:.1f} ms/image; channels-last: {last / args.batch * 1e3:.1f} ms/image; "
          f"largest output difference {(fast - plain).abs().max().item():.2e}")
    print(f"ratio: {nchw / last:.2f}")


if __name__ == "__main__":
    main()
