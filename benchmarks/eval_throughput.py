"""Evaluation throughput: batched KV-cache generation vs a one-prompt-at-a-time loop without cache.

Same model, same prompts (easy-vqa test questions with their images, built by the eval prompt
builder), greedy, same number of new tokens, same process. Prints both rates, how many replies
agree token for token, and ends with ``ratio: X`` (batched tokens/s over baseline tokens/s).

    python benchmarks/eval_throughput.py                 # embedded default model (EfficientNet-Lite0 + MLP + SmolLM2-135M)
    python benchmarks/eval_throughput.py --quick         # tiny random model, a few seconds (smoke test)
    python benchmarks/eval_throughput.py --recipe R.yaml # the model of a recipe (its last finished stage)
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

DEFAULT_MODEL = {
    "vision_encoder": {"name": "efficientnet_lite0"},
    "projector": {"name": "mlp"},
    "llm": {"name": "smollm2_135m"},
}
TINY_MODEL = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny random model, few prompts (smoke test)")
    p.add_argument("--recipe", default=None, help="benchmark this recipe's model instead of the default")
    p.add_argument("--prompts", type=int, default=None, help="number of prompts (default 32; quick 6)")
    p.add_argument("--batch-size", type=int, default=None, help="prompts per batch (default 16; quick 6)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="tokens per reply (default 16; quick 6)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    return p.parse_args(argv)


def build(args):
    import torch

    from vlmkit.eval.loading import DTYPES, load_model
    from vlmkit.model.vlm import build_vlm

    if args.recipe:
        loaded = load_model(args.recipe, device=args.device, dtype=args.dtype)
        return loaded.model, loaded.chat_template
    torch.manual_seed(0)
    model = build_vlm(TINY_MODEL if args.quick else DEFAULT_MODEL)
    return model.to(device=args.device, dtype=getattr(torch, DTYPES[args.dtype])).eval(), "tokenizer"


def prompts(model, chat_template, n):
    """``n`` easy-vqa test questions as (prompt ids, image tensors)."""
    from vlmkit.eval.images import load_image
    from vlmkit.eval.prompts import PromptBuilder
    from vlmkit.eval.tasks import build_task

    task = build_task("easy_vqa")
    builder = PromptBuilder(model, chat_template)
    dtype = next(model.parameters()).dtype
    out = []
    for ex in task.examples()[:: 97][:n]:  # spread over images and question kinds
        ids, sources = builder.encode(task, ex)
        out.append((ids, [model.image_transform(load_image(s)).to(dtype) for s in sources]))
    return out


def timed(fn):
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def main(argv=None) -> float:
    from vlmkit.eval.generate import GenerationConfig, generate, generate_uncached

    args = parse_args(argv)
    n = args.prompts or (6 if args.quick else 32)
    batch = args.batch_size or (6 if args.quick else 16)
    config = GenerationConfig(max_new_tokens=args.max_new_tokens or (6 if args.quick else 16))
    model, template = build(args)
    data = prompts(model, template, n)
    generate(model, [data[0][0]], [data[0][1]], GenerationConfig(max_new_tokens=2))  # warm-up
    chunks = [data[i : i + batch] for i in range(0, n, batch)]
    batched, t_batched = timed(lambda: [o for c in chunks for o in generate(model, [d[0] for d in c], [d[1] for d in c], config)])
    single, t_single = timed(lambda: [generate_uncached(model, ids, ims, config) for ids, ims in data])
    tok_b = sum(len(o.token_ids) for o in batched)
    tok_s = sum(len(o.token_ids) for o in single)
    agree = sum(a.token_ids == b.token_ids for a, b in zip(batched, single))
    mean_len = sum(len(d[0]) for d in data) / n
    print(f"model: {'recipe ' + args.recipe if args.recipe else ('tiny' if args.quick else 'efficientnet_lite0 + mlp + smollm2_135m')} on {args.device} ({args.dtype})")
    print(f"prompts: {n} (mean {mean_len:.0f} tokens incl. image runs), batch {batch}, up to {config.max_new_tokens} new tokens, greedy")
    print(f"batched KV cache : {tok_b} tokens in {t_batched:.2f} s = {tok_b / t_batched:.1f} tokens/s")
    print(f"one at a time, no cache: {tok_s} tokens in {t_single:.2f} s = {tok_s / t_single:.1f} tokens/s")
    print(f"identical replies: {agree}/{n}")
    ratio = (tok_b / t_batched) / (tok_s / t_single)
    print(f"ratio: {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
