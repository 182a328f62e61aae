"""CPU MFU of the embedded-default model: a vlmkit training step's model FLOP/s divided by the fp32
matmul rate measured in the same process.

On a CPU without native bf16 (AVX2 only, as our 2-core VM), bf16 matmuls run at a small fraction of
the fp32 rate; the bf16 step is then skipped (it would take many times longer) and the bf16 matmul
rate is printed instead.

Model: ``recipes/embedded.yaml`` (EfficientNet-Lite0 at 128 px, frozen -> MLP -> SmolLM2-135M), in
its pretrain configuration (projector + the LLM's last 4 layers train; gradients flow back through
the whole LLM to the projector). FLOPs per step are vlmkit's trainable-aware count
(:mod:`vlmkit.train.flops`). Measured for fp32 and for ``bf16`` (CPU autocast); the bf16 step is
also set against a bf16 matmul.

    OMP_NUM_THREADS=2 python benchmarks/cpu_mfu.py [--batch 8] [--seq 128] [--steps 3] [--force-bf16] [--tiny]

Ends with ``ratio: X`` = fp32 model FLOP/s / fp32 matmul FLOP/s (target >= 0.60).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `python -m vlmkit.train` runs (set before torch loads)

import torch

from vlmkit.config import load_recipe
from vlmkit.config.bundled import bundled_recipes
from vlmkit.model.vlm import build_vlm
from vlmkit.testing.synthetic import collate, synthetic_dataset
from vlmkit.train.composer_model import VLMComposerModel
from vlmkit.train.freezing import set_trainable
from vlmkit.train.peak import cpu_bf16_speed, matmul_flops

from steptimer import StepTimer

RECIPE = bundled_recipes() / "embedded.yaml"
TINY_MODEL = {"vision_encoder": {"name": "tiny_vit", "image_size": 32}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}}


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8, help="rows per step")
    p.add_argument("--seq", type=int, default=128, help="tokens per row")
    p.add_argument("--steps", type=int, default=3, help="timed steps, each followed by a matmul probe")
    p.add_argument("--stage", default="pretrain", help="stage of recipes/embedded.yaml whose trainable parts to use")
    p.add_argument("--force-bf16", action="store_true", help="time the bf16 step even where bf16 matmuls are emulated")
    p.add_argument("--tiny", action="store_true", help="tiny random model instead (test suite)")
    args = p.parse_args(argv)
    recipe = load_recipe(RECIPE)
    stage_cfg = recipe.stages[args.stage]
    model_cfg = TINY_MODEL if args.tiny else recipe.model.model_dump()
    if args.tiny:
        args.batch, args.seq, args.steps = 2, 48, 1

    torch.manual_seed(0)
    model = build_vlm(model_cfg)
    layers = None if args.tiny else stage_cfg.llm_trainable_layers
    set_trainable(model, stage_cfg.trainable, layers)
    batch = collate([synthetic_dataset(model, seq_len=args.seq, images_per_sample=1)[i] for i in range(args.batch)])
    flops = VLMComposerModel(model).flops_per_batch(batch)
    stage = {"trainable": stage_cfg.trainable, "llm_trainable_layers": layers,
             "optimizer": stage_cfg.optimizer.model_dump(), "global_batch_size": args.batch}

    bf16_speed = cpu_bf16_speed()
    run_bf16 = bf16_speed >= 0.5 or args.force_bf16 or args.tiny
    mfu, rates, peaks = {}, {}, {}
    for precision in ("fp32", "bf16") if run_bf16 else ("fp32",):
        with StepTimer(model_cfg, stage, model, batch, device="cpu", precision=precision) as timer:
            timer.seconds(1)  # warm-up
            # alternate steps with matmul probes, so a busy machine slows both alike; keep the best pair
            pairs = []
            for _ in range(args.steps):
                step = flops / timer.seconds(1)
                peak = matmul_flops("cpu", torch.float32, n=512 if args.tiny else 1536, seconds=0.3)
                pairs.append((step / peak, step, peak))
            mfu[precision], rates[precision], peaks[precision] = max(pairs)
    print(f"threads: {torch.get_num_threads()}; batch {args.batch} x {args.seq} tokens; {flops:.3e} model FLOPs per step")
    print(f"fp32 step: {rates['fp32'] / 1e9:.1f} GFLOP/s = {mfu['fp32']:.1%} of the fp32 matmul ({peaks['fp32'] / 1e9:.1f} GFLOP/s)")
    if "bf16" in mfu:
        print(f"bf16 step: {rates['bf16'] / 1e9:.1f} GFLOP/s = {mfu['bf16']:.1%} of the fp32 matmul; "
              f"{rates['bf16'] / rates['fp32']:.2f}x the fp32 step (bf16 matmul: {bf16_speed:.2f}x fp32)")
    else:
        print(f"bf16 step: not run: this CPU has no native bf16 matmul (bf16 matmul runs at {bf16_speed:.2f}x the "
              "fp32 rate), so a bf16 step would take many times longer (--force-bf16 runs it anyway)")
    ratio = mfu["fp32"]
    print(f"ratio: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
