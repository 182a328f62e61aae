"""Packing vs padding to the longest, on an MMC4-like length distribution, in the same process.

Each record has 1-6 images (``--image-tokens`` placeholders each) and 50-1500 text tokens. The
same device batches of ``--batch`` records (VILA: global 1024 on 8 GPUs = 128 per device) go
through vlmkit's collator twice: best-fit packed into ``--max-seq-len`` rows, and one record per
row padded to the longest. Printed:

- the fraction of non-padding positions of each, over 20 batches;
- useful (non-padding) tokens per second of a training step (forward, backward, AdamW) of a small
  VILA-shaped model (tiny ViT -> MLP -> Llama) on one microbatch of ``--rows`` rows of each
  (a device batch is processed as microbatches of that shape, so this is the step's rate).
  Packed rows use the block-diagonal mask built from ``position_ids``.

    python benchmarks/packing.py [--batch 128] [--rows 4] [--quick]

Ends with ``ratio: X`` = packed useful tokens/s / padded useful tokens/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import torch

from vlmkit.data.collate import STATS_KEY, VLMCollator
from vlmkit.model.splice import IGNORE_INDEX
from vlmkit.model.vlm import build_vlm
from vlmkit.train.batching import split_batch


def records(n: int, rng: random.Random, image_id: int, k: int, text: tuple[int, int], vocab: int, image_size: int) -> list[dict]:
    """MMC4-like records: images placed among the text, loss on the text."""
    out = []
    for _ in range(n):
        n_images, n_text = rng.randint(1, 6), rng.randint(*text)
        before = set(rng.sample(range(n_text), n_images))  # each image precedes a text token
        ids, labels = [], []
        for i in range(n_text):
            if i in before:
                ids += [image_id] * k
                labels += [IGNORE_INDEX] * k
            token = rng.randrange(vocab)
            ids.append(token)
            labels.append(token)
        out.append({"input_ids": ids, "labels": labels, "pixel_values": torch.randn(n_images, 3, image_size, image_size)})
    return out


def positions_per_second(model, optimizer, batch: dict) -> float:
    """Positions (rows x length) per second of one training step on ``batch``."""
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    model(**batch).loss.backward()
    optimizer.step()
    return batch["input_ids"].numel() / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128, help="records per device batch")
    parser.add_argument("--rows", type=int, default=4, help="rows per timed microbatch")
    parser.add_argument("--max-seq-len", type=int, default=2048)
    parser.add_argument("--image-tokens", type=int, default=64, help="placeholders per image (a square grid)")
    parser.add_argument("--hidden", type=int, default=256, help="LLM width")
    parser.add_argument("--repeats", type=int, default=4, help="timed steps of each, interleaved (best kept)")
    parser.add_argument("--quick", action="store_true", help="tiny run that only checks the script works")
    args = parser.parse_args(argv)
    text, n_batches = (50, 1500), 20
    if args.quick:
        args.batch, args.rows, args.max_seq_len, args.image_tokens, args.repeats, text, n_batches = 8, 2, 512, 16, 1, (10, 300), 2
    torch.manual_seed(0)
    side = int(args.image_tokens**0.5)
    model = build_vlm({"vision_encoder": {"name": "tiny_vit", "image_size": 8 * side, "patch_size": 8},
                       "projector": {"name": "mlp"},
                       "llm": {"name": "tiny_llama", "hidden_size": args.hidden, "intermediate_size": 2 * args.hidden,
                               "max_position_embeddings": args.max_seq_len}})
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng, tok = random.Random(0), model.tokenizer
    common = dict(max_seq_len=args.max_seq_len, pad_token_id=tok.pad_token_id, image_size=8 * side,
                  image_token_id=model.image_token_id, num_image_tokens=model.num_image_tokens)
    collators = {"packed": VLMCollator(packing=True, **common), "padded": VLMCollator(packing=False, **common)}

    totals = {name: [0, 0] for name in collators}
    timed: dict[str, dict] = {}
    for _ in range(n_batches):
        batch = records(args.batch, rng, model.image_token_id, args.image_tokens, text, 256, 8 * side)
        for name, collate in collators.items():
            out = collate(batch)
            stats = out.pop(STATS_KEY)
            totals[name][0] += stats.tokens
            totals[name][1] += stats.padded_tokens
            timed.setdefault(name, split_batch(out, args.rows, model.image_token_id, model.num_image_tokens)[0])
    best = {name: 0.0 for name in collators}
    for _ in range(args.repeats):  # interleaved, best of each: the machine's load shifts over time
        for name in collators:
            best[name] = max(best[name], positions_per_second(model, optimizer, timed[name]))
    # every microbatch of a device batch has the same shape: positions/s x the batch's useful fraction
    rates = {name: best[name] * totals[name][0] / totals[name][1] for name in collators}
    print(f"records/batch {args.batch}, max_seq_len {args.max_seq_len}, 1-6 images x {args.image_tokens} tokens, "
          f"{text[0]}-{text[1]} text tokens; step: {args.rows}-row microbatch, LLM width {args.hidden}")
    for name in collators:
        real, total = totals[name]
        shape = tuple(timed[name]["input_ids"].shape)
        print(f"{name}: non-padding {real / total:.1%}, microbatch {shape}, useful tokens/s {rates[name]:,.0f}")
    ratio = rates["packed"] / rates["padded"]
    print(f"ratio: {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    sys.exit(0 if main() > 0 else 1)
