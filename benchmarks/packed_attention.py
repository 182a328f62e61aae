"""Packed attention: vlmkit's dense ``[B, 1, L, L]`` mask vs. position ids alone, on the CPU.

One packed row of ``L`` tokens (samples of L/2, L/4, L/8 and the rest, the last 8 positions
padding) through a small Llama (``tiny_llama``: 256 wide, 4 layers, 4 heads), a training step
(forward, cross-entropy, backward), in this process, for each attention implementation asked for:

- ``dense``: the mask vlmkit builds (:func:`vlmkit.model.splice.packed_attention_mask`), one fp32
  ``L x L`` tensor shared by every layer;
- ``position_ids``: no mask, position ids from
  :func:`~vlmkit.model.splice.isolating_position_ids`; transformers builds the mask itself.

Per path: wall and CPU time per step (best of ``--steps`` rounds alternating the paths, after one
warm-up), peak memory (the profiler's allocation events) and the bytes autograd keeps for backward.
``flex_attention`` is left out: its CPU kernel has no backward (pytorch/pytorch#148752), and its
forward failed to compile (a C++ error) for this model at L = 2048 with torch 2.7.

    OMP_NUM_THREADS=2 python benchmarks/packed_attention.py [--lengths 2048 4096] [--attn sdpa eager] [--quick]

Ends with ``ratio: X`` = peak memory dense / position ids with the first implementation at the
longest length (above 1: position ids save memory).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `python -m vlmkit.train` runs (set before torch loads)
import time

import torch
from torch.profiler import ProfilerActivity, profile

from vlmkit.model.llm.tiny_llama import tiny_llama
from vlmkit.model.splice import causal_lm_loss, isolating_position_ids, packed_attention_mask
from vlmkit.train.peak import cpu_peak

MODEL = dict(hidden_size=256, num_layers=4, num_heads=4, num_kv_heads=4, intermediate_size=512,
             max_position_embeddings=4096)
QUICK = dict(hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=2, intermediate_size=64)
PAD = 8
MiB = 2**20


def packed_row(length: int, vocab: int) -> dict[str, torch.Tensor]:
    """``input_ids``, ``labels``, ``attention_mask``, ``position_ids`` ``[1, L]`` as the collator
    packs them (padding positions continue the last sample's count)."""
    used = length - PAD
    lengths = [used // 2, used // 4, used // 8]
    lengths.append(used - sum(lengths))
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (1, length), generator=g)
    positions = torch.cat([torch.arange(n) for n in lengths] + [torch.arange(lengths[-1], lengths[-1] + PAD)])
    mask = torch.cat([torch.ones(used), torch.zeros(PAD)]).long()
    return {"input_ids": ids, "labels": ids.masked_fill(mask[None] == 0, -100), "attention_mask": mask[None],
            "position_ids": positions[None]}


def llm_inputs(llm, batch: dict, path: str) -> dict:
    embeds = llm.embed(batch["input_ids"])
    if path == "dense":
        mask = packed_attention_mask(batch["position_ids"], batch["attention_mask"], embeds.dtype)
        return {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": batch["position_ids"]}
    return {"inputs_embeds": embeds, "attention_mask": None,
            "position_ids": isolating_position_ids(batch["position_ids"], batch["attention_mask"])}


def train_step(llm, batch: dict, path: str, saved: dict | None = None) -> None:
    """Forward (mask included), loss and backward; ``saved`` collects the bytes kept for backward."""
    params = {p.untyped_storage().data_ptr() for p in llm.parameters()}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if saved is not None and ptr not in params:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits = llm(**llm_inputs(llm, batch, path))
        loss, _ = causal_lm_loss(logits, batch["labels"], batch["position_ids"])
    loss.backward()
    llm.zero_grad(set_to_none=True)


def peak_bytes(fn) -> int:
    """Peak of the CPU memory allocated while ``fn()`` runs (the profiler's allocation events, in order)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU)
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


def best_seconds(steps: dict[str, callable], repeats: int) -> dict[str, tuple[float, float]]:
    """Best wall and best CPU time (this process, all threads) of each step over ``repeats`` rounds
    that alternate the steps, after one warm-up each. On a shared
    machine the CPU time is the steadier of the two."""
    best = {name: (float("inf"), float("inf")) for name in steps}
    for name, step in steps.items():
        step()
    for _ in range(repeats):
        for name, step in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def measure(paths: dict[str, tuple], batch: dict, repeats: int) -> dict[str, dict[str, float]]:
    """``paths``: name -> ``(llm, path)``; per name wall and CPU ms per step, ``peak`` and ``saved`` MiB."""
    def step(llm, path, saved=None):
        return lambda: train_step(llm, batch, path, saved)

    seconds = best_seconds({name: step(*args) for name, args in paths.items()}, repeats)
    out = {}
    for name, args in paths.items():
        saved: dict[int, int] = {}
        peak = peak_bytes(step(*args, saved))
        wall, cpu = seconds[name]
        out[name] = {"ms": wall * 1e3, "cpu_ms": cpu * 1e3, "peak": peak / MiB, "saved": sum(saved.values()) / MiB}
    return out


def row(impl: str, length: int, path: str, m: dict[str, float], base: dict[str, float]) -> str:
    return (f"| {impl} | {length} | {path} | {m['ms']:.0f} | {m['cpu_ms']:.0f} | {m['peak']:.1f} | {m['saved']:.1f} | "
            f"{m['cpu_ms'] / base['cpu_ms']:.2f} | {m['peak'] / base['peak']:.2f} |")


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--attn", nargs="+", default=["sdpa"], help="attention implementations (training step)")
    parser.add_argument("--steps", type=int, default=3, help="timed rounds, alternating the paths (after one warm-up)")
    parser.add_argument("--quick", action="store_true", help="a 32-wide model at L = 64 and 128, one step")
    args = parser.parse_args(argv)
    config, lengths, steps = (QUICK, [64, 128], 1) if args.quick else (MODEL, args.lengths, args.steps)

    print(f"fp32 matmul rate: {cpu_peak()}; {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"model: tiny_llama {config}; one row of L tokens, 4 packed samples + {PAD} padding")
    print("| attention | L | path | ms/step | CPU ms/step | peak MiB | saved for backward MiB | CPU time vs dense | "
          "peak vs dense |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    ratio = None
    for impl in args.attn:
        torch.manual_seed(0)
        llm = tiny_llama(attn_implementation=impl, **config)
        for length in lengths:
            m = measure({"dense": (llm, "dense"), "position_ids": (llm, "position_ids")},
                        packed_row(length, len(llm.tokenizer)), steps)
            for path in m:
                print(row(impl, length, path, m[path], m["dense"]), flush=True)
            if impl == args.attn[0] and length == max(lengths):
                ratio = m["dense"]["peak"] / m["position_ids"]["peak"]
    print(f"ratio: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
