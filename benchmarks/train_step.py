"""vlmkit's Composer training step vs. a hand-written PyTorch loop, same model, batch and optimizer.

Both sides start from the same weights, train the same parts (projector + LLM, frozen encoder)
with the same DecoupledAdamW and cosine schedule on the same synthetic batch, for ``--steps``
steps after ``--warmup`` steps, in this process. The vlmkit side is the real assembly
(:func:`steptimer.time_steps`: Composer Trainer, metrics, FLOPs, loss history, speed
monitor); the plain side is ``zero_grad; model(**batch).loss.backward(); step; sched.step()``.
Also printed: model FLOPs utilisation of each side against an fp32 matmul measured now.

    python benchmarks/train_step.py [--width 256] [--layers 4] [--batch 4] [--seq 256] [--steps 6] [--quick]

Ends with ``ratio: X`` = vlmkit seconds per step / plain seconds per step (target <= 1.05).
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
from vlmkit.train.composer_model import VLMComposerModel
from vlmkit.train.freezing import param_groups, set_trainable
from vlmkit.train.optim import build_optimizer
from vlmkit.train.peak import matmul_flops

from steptimer import time_steps


def model_config(args) -> dict:
    return {
        "vision_encoder": {"name": "tiny_vit", "image_size": 32, "patch_size": 8, "width": args.width // 2, "depth": 2},
        "projector": {"name": "mlp"},
        "llm": {"name": "tiny_llama", "hidden_size": args.width, "num_layers": args.layers, "num_heads": 4,
                "num_kv_heads": 4, "intermediate_size": 4 * args.width},
    }


STAGE = {"trainable": ["projector", "llm"], "optimizer": {"lr": 1e-4}}


def fresh_model(args):
    torch.manual_seed(0)
    return build_vlm(model_config(args))


def time_vlmkit(args, batch) -> float:
    """Seconds per step of ``trainer.fit`` after warm-up steps."""
    stage = {**STAGE, "global_batch_size": args.batch}
    return time_steps(model_config(args), stage, fresh_model(args), batch, args.steps, args.warmup, device="cpu")


def time_plain(args, batch) -> float:
    """Seconds per step of a hand-written loop over the same model, optimizer and schedule."""
    model = fresh_model(args)
    cfg = OptimizerConfig(**STAGE["optimizer"])
    set_trainable(model, STAGE["trainable"])
    opt = build_optimizer(param_groups(model, cfg), cfg)
    total = args.warmup + args.steps
    warm = 1
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / warm if s < warm else 0.5 * (1 + torch.cos(torch.tensor(torch.pi * (s - warm) / (total - warm))).item()))
    model.train()
    model.vision_encoder.eval()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
        opt.step()
        sched.step()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    return (time.perf_counter() - start) / args.steps


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2, help="alternate the two sides this many times; best of each")
    p.add_argument("--quick", action="store_true", help="tiny sizes for the test suite")
    args = p.parse_args(argv)
    if args.quick:
        args.width, args.layers, args.batch, args.seq, args.steps, args.warmup, args.repeats = 64, 2, 4, 64, 2, 1, 1

    probe = fresh_model(args)
    set_trainable(probe, ["projector", "llm"])
    batch = collate([synthetic_dataset(probe, seq_len=args.seq, images_per_sample=1)[i] for i in range(args.batch)])
    flops = VLMComposerModel(probe).flops_per_batch(batch)
    plain, ours = [], []
    for _ in range(args.repeats):  # alternate, so drifting machine load hits both sides alike
        plain.append(time_plain(args, batch))
        ours.append(time_vlmkit(args, batch))
    peak = matmul_flops("cpu", torch.float32)
    t_plain, t_ours = min(plain), min(ours)
    print(f"threads: {torch.get_num_threads()}; batch {args.batch} x {args.seq} tokens; {flops:.3e} model FLOPs per step")
    print(f"fp32 matmul: {peak / 1e9:.1f} GFLOP/s")
    print(f"plain PyTorch loop: {t_plain * 1e3:.1f} ms/step, MFU {flops / t_plain / peak:.1%}")
    print(f"vlmkit (Composer):  {t_ours * 1e3:.1f} ms/step, MFU {flops / t_ours / peak:.1%}")
    ratio = t_ours / t_plain
    print(f"ratio: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
