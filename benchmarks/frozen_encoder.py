"""Frozen vision encoder without autograd (vlmkit) vs. frozen by leaving it out of the optimizer.

vlmkit freezes a part by ``requires_grad=False``; the VLM then runs a frozen encoder under
``torch.no_grad()``, so none of its activations are kept and backward stops at the projector.
The common alternative freezes it only by leaving its weights out of the optimizer: autograd
still records the encoder, keeps its activations and computes weight gradients nobody uses.
Same model, same batch, same optimizer (projector + LLM), in this process:

- activation memory: bytes autograd saves for backward during one forward (parameters excluded),
  counted with ``torch.autograd.graph.saved_tensors_hooks``;
- time per training step (forward, backward, AdamW).

Model: EfficientNet-Lite0 at 128 px (the embedded default's encoder) -> MLP -> a small Llama, with
``--images`` images per step, so the encoder's share is visible.

    python benchmarks/frozen_encoder.py [--images 32] [--steps 3] [--tiny]

Ends with ``ratio: X`` = activation bytes with autograd / without (time ratio printed above).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `python -m vlmkit.train` runs (set before torch loads)
import time

import torch

from vlmkit.config import OptimizerConfig
from vlmkit.model.vlm import build_vlm
from vlmkit.testing.synthetic import collate, synthetic_dataset
from vlmkit.train.freezing import param_groups, set_trainable
from vlmkit.train.optim import build_optimizer

from steptimer import saved_activation_bytes

MODEL = {
    "vision_encoder": {"name": "efficientnet_lite0", "image_size": 128, "pool_to": 2},
    "projector": {"name": "mlp"},
    "llm": {"name": "tiny_llama", "hidden_size": 256, "num_layers": 4, "intermediate_size": 1024},
}
TINY = {**MODEL, "vision_encoder": {"name": "tiny_vit", "image_size": 32}}


def build(config: dict, encoder_autograd: bool):
    torch.manual_seed(0)
    model = build_vlm(config)
    set_trainable(model, ["projector", "llm"])
    cfg = OptimizerConfig(lr=1e-4)
    optimizer = build_optimizer(param_groups(model, cfg), cfg)  # projector + LLM only, either way
    if encoder_autograd:
        model.vision_encoder.requires_grad_(True)  # frozen only by being left out of the optimizer
    model.train()
    model.vision_encoder.eval()
    return model, optimizer


def seconds_per_step(model, optimizer, batch, steps: int) -> float:
    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=32, help="images per step (one per row)")
    p.add_argument("--seq", type=int, default=64, help="tokens per row")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--tiny", action="store_true", help="tiny ViT and sizes (test suite)")
    args = p.parse_args(argv)
    config = TINY if args.tiny else MODEL
    if args.tiny:
        args.images, args.seq, args.steps = 4, 48, 1

    results = {}
    for label, autograd in (("no autograd (vlmkit)", False), ("with autograd", True)):
        model, optimizer = build(config, autograd)
        batch = collate([synthetic_dataset(model, seq_len=args.seq)[i] for i in range(args.images)])
        activations = saved_activation_bytes(model, batch)
        seconds = seconds_per_step(model, optimizer, batch, args.steps)
        results[label] = (activations, seconds)
        print(f"{label:>22}: {activations / 2**20:8.1f} MiB of saved activations, {seconds * 1e3:8.1f} ms/step")
    (ours_mem, ours_t), (base_mem, base_t) = results.values()
    print(f"threads: {torch.get_num_threads()}; {args.images} images of {config['vision_encoder']['image_size']} px per step")
    print(f"saved: {(base_mem - ours_mem) / 2**20:.1f} MiB of activations ({base_mem / ours_mem:.2f}x less), "
          f"{(base_t - ours_t) * 1e3:.1f} ms per step ({base_t / ours_t:.2f}x faster)")
    ratio = base_mem / ours_mem
    print(f"ratio: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
