"""How a training step grows with sequence length, images per sample and model width, and the
streaming loader's memory as the dataset grows 10x.

Part 1, a table: for a small VILA-shaped model (tiny ViT -> MLP -> Llama, projector + LLM
trainable), seconds per training step (forward, backward, AdamW; best of ``--repeats``) and the
activation bytes autograd keeps, varying one factor at a time around a base point.

Part 2: MDS shards of ``--records`` and 10x as many image-text pairs are written (once, under the
system's temporary folder), then vlmkit's
training loader (``vlmkit.data.loader.build_dataloader``) reads ``--batches`` batches from each;
the growth of this process's resident memory while reading is printed for both.

    python benchmarks/scale.py [--records 2000] [--batches 40] [--quick]

Ends with ``ratio: X`` = loader memory growth on the 10x dataset / on the 1x dataset (flat: about 1).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `python -m vlmkit.train` runs (set before torch loads)
import io
import tempfile
import time
from pathlib import Path

import psutil
import torch

from vlmkit.config import OptimizerConfig, validate_recipe
from vlmkit.model.vlm import build_vlm
from vlmkit.testing.synthetic import collate, synthetic_dataset
from vlmkit.train.freezing import param_groups, set_trainable
from vlmkit.train.optim import build_optimizer

from steptimer import saved_activation_bytes

BASE = {"seq": 256, "images": 1, "width": 128}


def model_config(width: int) -> dict:
    return {"vision_encoder": {"name": "tiny_vit", "image_size": 32, "width": 64},
            "projector": {"name": "mlp"},
            "llm": {"name": "tiny_llama", "hidden_size": width, "num_layers": 4, "intermediate_size": 4 * width}}


def measure(seq: int, images: int, width: int, rows: int, repeats: int) -> tuple[float, int]:
    torch.manual_seed(0)
    model = build_vlm(model_config(width))
    set_trainable(model, ["projector", "llm"])
    cfg = OptimizerConfig(lr=1e-4)
    opt = build_optimizer(param_groups(model, cfg), cfg)
    batch = collate([synthetic_dataset(model, seq_len=seq, images_per_sample=images)[i] for i in range(rows)])
    memory = saved_activation_bytes(model, batch)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
        opt.step()
        best = min(best, time.perf_counter() - start)
    return best, memory


def step_table(args) -> None:
    print(f"| factor | value | ms/step | activations (MiB) |  ({args.rows} rows; base {BASE})")
    print("|---|---|---|---|")
    grid = {"seq": args.seqs, "images": args.images_per_sample, "width": args.widths}
    for factor, values in grid.items():
        for value in values:
            point = {**BASE, factor: value}
            seconds, memory = measure(point["seq"], point["images"], point["width"], args.rows, args.repeats)
            print(f"| {factor} | {value} | {seconds * 1e3:.1f} | {memory / 2**20:.1f} |")


def write_pairs(folder: Path, n: int) -> None:
    from PIL import Image
    from streaming import MDSWriter

    from vlmkit.data.schema import COLUMNS, pack_images

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(buf, format="PNG")
    png = buf.getvalue()
    with MDSWriter(columns=COLUMNS, out=str(folder), size_limit="1mb") as out:
        for i in range(n):
            out.write({"id": str(i), "kind": "pairs", "content": {"caption": f"a red square number {i}"},
                       "images": pack_images([png])})


def loader_growth(folder: Path, batches: int) -> float:
    """RSS growth (bytes) of this process while the loader yields ``batches`` batches."""
    from vlmkit.data.loader import build_dataloader

    recipe = validate_recipe({
        "name": "scale", "model": model_config(BASE["width"]), "datasets": {"d": {"kind": "pairs", "remote": str(folder)}},
        "data": {"max_seq_len": 128}, "stages": {"s": {"trainable": ["projector"], "mixture": {"d": 1.0},
                                                     "optimizer": {"lr": 1e-3}, "global_batch_size": 16, "duration": "1ba"}},
    })
    model = build_vlm(recipe.model)
    proc = psutil.Process()
    loader = build_dataloader(recipe, "s", model, 16)
    start, peak = proc.memory_info().rss, 0
    batches_iter = iter(loader)
    for _ in range(batches):
        next(batches_iter)
        peak = max(peak, proc.memory_info().rss - start)
    batches_iter.close()  # stops Streaming's background threads before the shards go away
    return float(peak)


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seqs", type=int, nargs="+", default=[128, 256, 512])
    p.add_argument("--images-per-sample", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--widths", type=int, nargs="+", default=[128, 256, 512])
    p.add_argument("--records", type=int, default=2000)
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--quick", action="store_true", help="tiny sizes (test suite)")
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.repeats, args.seqs, args.images_per_sample, args.widths = 2, 1, [64, 128], [1, 2], [64, 128]
        args.records, args.batches = 200, 5
    print(f"threads: {torch.get_num_threads()}")
    step_table(args)
    growth = {}
    for n in (args.records, 10 * args.records):
        # kept between runs (Streaming's prefetch threads may still look at the shards after we stop reading)
        folder = Path(tempfile.gettempdir()) / "vlmkit-scale-benchmark" / f"pairs-{n}"
        if not (folder / "index.json").is_file():
            write_pairs(folder, n)
        growth[n] = loader_growth(folder, args.batches)
        print(f"loader over {n} records: resident memory grew {growth[n] / 2**20:.1f} MiB in {args.batches} batches")
    small, large = growth.values()
    ratio = max(large, 2**20) / max(small, 2**20)  # below 1 MiB counts as 1 MiB (measurement noise)
    print(f"ratio: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
