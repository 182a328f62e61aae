"""GPU MFU of a VILA-shaped model: one vlmkit training step (bf16, FSDP2) on one GPU, random weights.

Model (default): a SigLIP-so400m-shaped encoder at 384 px (26 layers, 729 patches) -> VILA-1.5's
2x2 ``downsample`` projector (196 tokens per image) -> a Llama-shaped LLM from Sheared-LLaMA-2.7B's
architecture cut to ``--llm-layers`` layers (16: 1.4B parameters, vocab 32000); ~1.9B in all,
built directly on the GPU with random weights from the shipped architecture configs (``random_init``,
no download). All parts train (VILA's SFT with the vision tower); packed rows of ``--seq`` tokens with
``--images`` images each.

MFU = model FLOPs per step (vlmkit's count, :mod:`vlmkit.train.flops`) / step time, against the
H100's dense bf16 peak (989 TFLOP/s) and against a bf16 matmul measured now.

    python benchmarks/gpu_mfu.py [--rows 8] [--seq 2048] [--images 4] [--llm-layers 16] [--activation-checkpointing]
                                 [--optimizer adamw] [--steps 5] [--profile] [--attn sdpa] [--compile off]
    python benchmarks/gpu_mfu.py --loop plain   # the same model and batch in a hand-written loop (baseline)
    python benchmarks/gpu_mfu.py --tiny         # CPU, tiny sizes (the test suite), fp32

``--loop plain`` times a hand-written single-device loop instead of vlmkit's Composer step: the same
optimizer and microbatches, bf16 autocast on the GPU, no FSDP, no Composer (the overhead baseline).

``--attn`` is the LLM's ``attn_implementation`` (``auto``: ``flex_attention`` on a GPU, so packed rows
go in as position ids and no ``[L, L]`` mask is built or read; ``sdpa`` on the CPU, where flex has
no backward; ``flash_attention_2`` where flash-attn is installed). ``--compile`` is
``trainer.compile`` (regional: each repeated block; ``auto`` = on for GPUs). Batches carry
``image_positions`` as the collator's do, so the image splice does not sync.

Ends with ``ratio: X`` = MFU against the datasheet peak (target >= 0.50); on CPU, against a
measured fp32 matmul.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Callable

import torch

from vlmkit.config import OptimizerConfig
from vlmkit.model.splice import placeholder_positions
from vlmkit.model.vlm import build_vlm
from vlmkit.testing.synthetic import collate, synthetic_dataset
from vlmkit.train.batching import split_batch
from vlmkit.train.compile import compile_blocks, compile_enabled
from vlmkit.train.composer_model import VLMComposerModel
from vlmkit.train.freezing import count_parameters, param_groups, set_trainable
from vlmkit.train.optim import build_optimizer
from vlmkit.train.parallel import apply_activation_checkpointing, mark_wrapping
from vlmkit.train.peak import datasheet_peak, matmul_flops

from steptimer import StepTimer, cuda_sync


def model_config(args) -> dict:
    if args.tiny:
        return {"vision_encoder": {"name": "tiny_vit", "image_size": 32}, "projector": {"name": "downsample"},
                "llm": {"name": "tiny_llama", "hidden_size": 128, "intermediate_size": 256, "attn_implementation": args.attn}}
    return {
        "vision_encoder": {"name": "siglip", "pretrained": "google/siglip-so400m-patch14-384", "select_layer": -2, "random_init": True},
        "projector": {"name": "downsample"},
        "llm": {"name": "hf_causal_lm", "pretrained": "princeton-nlp/Sheared-LLaMA-2.7B", "random_init": True,
                "config_overrides": {"num_hidden_layers": args.llm_layers}, "attn_implementation": args.attn},
    }


def plain_runner(model, batch: dict, args) -> Callable[[int], float]:
    """``run(n)`` -> seconds per step over ``n`` steps of a hand-written loop on the model's device:
    the same optimizer and microbatches (gradient accumulation), bf16 autocast on a GPU, no FSDP,
    no Composer."""
    device = next(model.parameters()).device
    if args.compile:  # before checkpointing wraps the blocks, as build_stage does
        compile_blocks(model)
    if args.activation_checkpointing:
        wrapped = VLMComposerModel(model)
        mark_wrapping(wrapped)
        apply_activation_checkpointing(wrapped)
    cfg = OptimizerConfig(name=args.optimizer, lr=1e-5)
    opt = build_optimizer(param_groups(model, cfg), cfg, "gpu" if device.type == "cuda" else "cpu")
    parts = [{k: v.to(device) if torch.is_tensor(v) else v for k, v in part.items()}
             for part in split_batch(batch, args.microbatch, model.image_token_id, model.num_image_tokens)]
    autocast = torch.autocast("cuda", torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    model.train()

    def run(steps: int) -> float:
        cuda_sync()
        start = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            for part in parts:
                with autocast:
                    loss = model(**part).loss / len(parts)
                loss.backward()
            opt.step()
        cuda_sync()
        return (time.perf_counter() - start) / steps

    return run


def vlmkit_stage(args) -> dict:
    """The training stage vlmkit's step runs: every part trains (VILA's SFT with the vision tower)."""
    return {"trainable": ["vision_encoder", "projector", "llm"], "optimizer": {"name": args.optimizer, "lr": 1e-5},
            "global_batch_size": args.rows, "microbatch_size": args.microbatch}


def profile(run: Callable[[int], float], on_gpu: bool, rows: int = 20) -> None:
    """Print where two steps spend their time: kernels by device time, operators by CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if on_gpu else [])]
    with torch_profile(activities=activities) as prof:
        run(2)
    table = prof.key_averages()
    if on_gpu:
        print(table.table(sort_by="self_device_time_total", row_limit=rows, max_name_column_width=60))
    print(table.table(sort_by="cpu_time_total", row_limit=rows // 2, max_name_column_width=60))


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=8, help="packed rows per step (one process)")
    p.add_argument("--microbatch", type=int, default=4, help="rows per forward pass")
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--images", type=int, default=4, help="images per packed sample (2 samples per row)")
    p.add_argument("--llm-layers", type=int, default=16)
    p.add_argument("--activation-checkpointing", action="store_true")
    p.add_argument("--parallelism", choices=("fsdp2", "ddp"), default="fsdp2")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--loop", choices=("vlmkit", "plain"), default="vlmkit", help="vlmkit's Composer step or a hand-written loop")
    p.add_argument("--optimizer", choices=("decoupled_adamw", "adamw"), default="decoupled_adamw")
    p.add_argument("--profile", action="store_true", help="print a profile of two steps (kernels, operators)")
    p.add_argument("--attn", default="auto", help="the LLM's attn_implementation (auto: flex_attention on a GPU, sdpa on the CPU)")
    p.add_argument("--compile", choices=("auto", "on", "off"), default="auto", help="regional torch.compile (auto: on for GPUs)")
    p.add_argument("--tiny", action="store_true", help="CPU, tiny sizes, fp32 (test suite)")
    args = p.parse_args(argv)
    on_gpu = torch.cuda.is_available() and not args.tiny
    if args.attn == "auto":
        args.attn = "flex_attention" if on_gpu else "sdpa"
    args.compile = compile_enabled({"on": True, "off": False}.get(args.compile, args.compile), "gpu" if on_gpu else "cpu")
    if args.tiny:
        args.rows, args.microbatch, args.seq, args.images, args.steps, args.warmup = 2, 1, 64, 1, 1, 1
    elif not on_gpu:
        raise SystemExit("gpu_mfu.py needs a CUDA GPU; use --tiny for the CPU smoke run")

    cfg = model_config(args)
    torch.manual_seed(0)
    with torch.device("cuda" if on_gpu else "cpu"):
        model = build_vlm(cfg)  # random weights (random_init / random-init tiny parts): nothing downloaded
    set_trainable(model, ["vision_encoder", "projector", "llm"])
    batch = collate([synthetic_dataset(model, seq_len=args.seq, images_per_sample=args.images)[i] for i in range(args.rows)])
    batch["image_positions"] = placeholder_positions(batch["input_ids"], model.image_token_id)  # as the collator gives
    flops = VLMComposerModel(model).flops_per_batch(batch)
    trainer = {"device": "gpu" if on_gpu else "cpu", "precision": "amp_bf16" if on_gpu else "fp32",
               "parallelism": args.parallelism, "activation_checkpointing": args.activation_checkpointing,
               "compile": args.compile}
    params = count_parameters(model)
    with contextlib.ExitStack() as stack:
        if args.loop == "plain":
            run = plain_runner(model, batch, args)
            trainer = {"loop": "plain", "autocast": "bf16" if on_gpu else None, "activation_checkpointing": args.activation_checkpointing,
                       "compile": args.compile}
        else:
            run = stack.enter_context(StepTimer(cfg, vlmkit_stage(args), model, batch, **trainer)).seconds
        run(args.warmup)  # allocator, kernels
        if args.profile:
            profile(run, on_gpu)
        seconds = run(args.steps)
    memory = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else float("nan")
    dtype = torch.bfloat16 if on_gpu else torch.float32
    measured = matmul_flops("cuda" if on_gpu else "cpu", dtype, n=8192 if on_gpu else 512)
    sheet = datasheet_peak(dtype) if on_gpu else None
    peak = sheet.flops if sheet else None
    achieved = flops / seconds
    print(f"device: {torch.cuda.get_device_name() if on_gpu else 'cpu'}; {params / 1e9:.2f}B parameters; "
          f"{args.rows} rows x {args.seq} tokens, {args.images} images per sample; {trainer}; {args.optimizer}; attn {args.attn}")
    print(f"step: {seconds * 1e3:.1f} ms, {flops:.3e} model FLOPs, {achieved / 1e12:.2f} TFLOP/s, peak memory {memory:.1f} GiB")
    print(f"MFU vs measured {dtype} matmul ({measured / 1e12:.1f} TFLOP/s): {achieved / measured:.1%}")
    if peak:
        print(f"MFU vs {sheet.source} ({peak / 1e12:.0f} TFLOP/s): {achieved / peak:.1%}")
    ratio = achieved / (peak or measured)
    print(f"ratio: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
