"""GPU MFU of a VILA-shaped model: one vlmkit training step (bf16, FSDP2) on one GPU, random weights.

Model (default): a SigLIP-so400m-shaped encoder at 384 px (26 layers, 729 patches) -> VILA-1.5's
2x2 ``downsample`` projector (196 tokens per image) -> a Llama-shaped LLM from Sheared-LLaMA-2.7B's
architecture cut to ``--llm-layers`` layers (16: 1.4B parameters, vocab 32000); ~1.9B in all,
built directly on the GPU from the shipped architecture configs (no download). All parts train
(VILA's SFT with the vision tower); packed rows of ``--seq`` tokens with ``--images`` images each.

MFU = model FLOPs per step (vlmkit's count, :mod:`vlmkit.train.flops`) / step time, against the
H100's dense bf16 peak (989 TFLOP/s) and against a bf16 matmul measured now.

    python benchmarks/gpu_mfu.py [--rows 8] [--seq 2048] [--images 4] [--llm-layers 16] [--activation-checkpointing] [--steps 5]
    python benchmarks/gpu_mfu.py --tiny      # CPU, tiny sizes (the test suite), fp32

Ends with ``ratio: X`` = MFU against the datasheet peak (target >= 0.50); on CPU, against a
measured fp32 matmul.
"""

from __future__ import annotations

import argparse

import torch

from vlmkit.model.vlm import build_vlm
from vlmkit.train.composer_model import VLMComposerModel
from vlmkit.train.freezing import count_parameters, set_trainable
from vlmkit.train.peak import datasheet_peak, matmul_flops
from vlmkit.train.steptimer import StepTimer
from vlmkit.train.synthetic import collate, synthetic_dataset


def model_config(args) -> dict:
    if args.tiny:
        return {"vision_encoder": {"name": "tiny_vit", "image_size": 32}, "projector": {"name": "downsample"},
                "llm": {"name": "tiny_llama", "hidden_size": 128, "intermediate_size": 256}}
    return {
        "vision_encoder": {"name": "siglip", "pretrained": "google/siglip-so400m-patch14-384", "select_layer": -2},
        "projector": {"name": "downsample"},
        "llm": {"name": "hf_causal_lm", "pretrained": "princeton-nlp/Sheared-LLaMA-2.7B",
                "config_overrides": {"num_hidden_layers": args.llm_layers}},
    }


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
    p.add_argument("--tiny", action="store_true", help="CPU, tiny sizes, fp32 (test suite)")
    args = p.parse_args(argv)
    on_gpu = torch.cuda.is_available() and not args.tiny
    if args.tiny:
        args.rows, args.microbatch, args.seq, args.images, args.steps = 2, 1, 64, 1, 1
    elif not on_gpu:
        raise SystemExit("gpu_mfu.py needs a CUDA GPU; use --tiny for the CPU smoke run")

    cfg = model_config(args)
    torch.manual_seed(0)
    with torch.device("cuda" if on_gpu else "cpu"):
        model = build_vlm(cfg, load_weights=False)
    set_trainable(model, ["vision_encoder", "projector", "llm"])
    batch = collate([synthetic_dataset(model, seq_len=args.seq, images_per_sample=args.images)[i] for i in range(args.rows)])
    flops = VLMComposerModel(model).flops_per_batch(batch)
    stage = {"trainable": ["vision_encoder", "projector", "llm"], "optimizer": {"lr": 1e-5},
             "global_batch_size": args.rows, "microbatch_size": args.microbatch}
    trainer = {"device": "gpu" if on_gpu else "cpu", "precision": "amp_bf16" if on_gpu else "fp32",
               "parallelism": args.parallelism, "activation_checkpointing": args.activation_checkpointing}
    params = count_parameters(model)
    with StepTimer(cfg, stage, model, batch, **trainer) as timer:
        timer.seconds(2 if on_gpu else 1)  # warm-up (allocator, kernels)
        seconds = timer.seconds(args.steps)
        memory = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else float("nan")
    dtype = torch.bfloat16 if on_gpu else torch.float32
    measured = matmul_flops("cuda" if on_gpu else "cpu", dtype, n=8192 if on_gpu else 512)
    peak = datasheet_peak(dtype) if on_gpu else None
    achieved = flops / seconds
    print(f"device: {torch.cuda.get_device_name() if on_gpu else 'cpu'}; {params / 1e9:.2f}B parameters; "
          f"{args.rows} rows x {args.seq} tokens, {args.images} images per sample; {trainer}")
    print(f"step: {seconds * 1e3:.1f} ms, {flops:.3e} model FLOPs, {achieved / 1e12:.2f} TFLOP/s, peak memory {memory:.1f} GiB")
    print(f"MFU vs measured {dtype} matmul ({measured / 1e12:.1f} TFLOP/s): {achieved / measured:.1%}")
    if peak:
        print(f"MFU vs datasheet dense peak ({peak / 1e12:.0f} TFLOP/s): {achieved / peak:.1%}")
    ratio = achieved / (peak or measured)
    print(f"ratio: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
