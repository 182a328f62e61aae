"""Data-loading throughput: vlmkit's pipeline vs a LLaVA-style loader, same samples, same process.

vlmkit: MDS shards written by ``vlmkit convert conversations`` from the baseline's own JSON and image
files -> StreamingDataset -> checked JPEG decode -> pad/resize/normalise -> one
tokenization per conversation with offsets -> best-fit packing -> batch tensors.
Baseline (LLaVA's LazySupervisedDataset, rewritten here): JSON list loaded once, one image file
opened per item, expand-to-square + CLIPImageProcessor, vicuna_v1 prompt tokenized whole and then
round by round to find the loss mask, pad-to-longest collate.

Both run in the main process (num_workers=0) over the same conversations with photo-like JPEGs
(longer side 320-1024 px, web-image sizes), to 336 px images and 576 tokens per image (VILA's CLIP ViT-L/14-336).
The baseline always reads the original files; ``--max-image-side N`` converts with the converter's
option of that name (images stored downscaled to training size, as VILA/LLaVA pipelines store them).

    python benchmarks/data_loading.py [--samples 256] [--tokenizer smollm2|tiny] [--max-image-side 336] [--quick]

Ends with ``ratio: X`` = vlmkit samples/s / baseline samples/s.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

IMAGE_SIZE, IMAGE_TOKENS = 336, 576
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
WORDS = "the a shape red blue green circle square triangle is on of left right small large image shows what".split()


def photos() -> list[Image.Image]:
    from skimage import data

    return [Image.fromarray(np.asarray(getattr(data, n)())).convert("RGB") for n in ("astronaut", "chelsea", "coffee", "rocket")]


def make_samples(n: int, seed: int = 0) -> list[dict]:
    """``n`` LLaVA-style records with JPEG bytes: 1-3 rounds of question and answer."""
    rng, base = random.Random(seed), photos()
    out = []
    for i in range(n):
        src = rng.choice(base)
        longest = rng.randint(320, 1024)
        w, h = longest, int(longest * rng.uniform(0.6, 1.0))
        w, h = (w, h) if rng.random() < 0.5 else (h, w)
        left, top = rng.randint(0, src.width // 4), rng.randint(0, src.height // 4)
        img = src.crop((left, top, src.width - rng.randint(0, src.width // 4), src.height - rng.randint(0, src.height // 4))).resize((w, h))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        conv = []
        for r in range(rng.randint(1, 3)):
            q = " ".join(rng.choices(WORDS, k=rng.randint(5, 25))) + "?"
            conv += [{"from": "human", "value": ("<image>\n" if r == 0 else "") + q},
                     {"from": "gpt", "value": " ".join(rng.choices(WORDS, k=rng.randint(5, 60))) + "."}]
        out.append({"id": str(i), "jpeg": buf.getvalue(), "conversations": conv})
    return out


def write_llava(samples: list[dict], root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    records = []
    for s in samples:
        (root / "images" / f"{s['id']}.jpg").write_bytes(s["jpeg"])
        records.append({"id": s["id"], "image": f"{s['id']}.jpg", "conversations": s["conversations"]})
    (root / "llava.json").write_text(json.dumps(records))
    return root


def write_mds(llava: Path, root: Path, max_image_side: int | None = None):
    """The LLaVA JSON + image folder converted to MDS by vlmkit's converter; returns its report."""
    from vlmkit.data.convert import convert

    report = convert("conversations", llava / "llava.json", root, image_root=llava / "images", max_image_side=max_image_side)
    if report.records_skipped:
        raise RuntimeError(f"the converter skipped records: {dict(report.skipped)}")
    return report


def load_tokenizer(name: str):
    from vlmkit.model.llm.hf_backbone import ensure_image_token

    if name == "tiny":
        from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer

        tok = tiny_tokenizer()
    else:
        from transformers import AutoTokenizer

        from vlmkit.model.llm.smollm2 import smollm2_folder

        tok = AutoTokenizer.from_pretrained(smollm2_folder())
    ensure_image_token(tok)
    return tok


def vlmkit_loader(mds: Path, tokenizer, batch_size: int):
    from vlmkit.config import validate_recipe
    from vlmkit.data.loader import build_dataloader
    from vlmkit.model.vision.base import ImageTransform

    model = SimpleNamespace(tokenizer=tokenizer, image_transform=ImageTransform(IMAGE_SIZE, CLIP_MEAN, CLIP_STD),
                            num_image_tokens=IMAGE_TOKENS, image_token_id=tokenizer.convert_tokens_to_ids("<image>"))
    recipe = validate_recipe({
        "name": "bench", "model": {"vision_encoder": {"name": "-"}, "projector": {"name": "-"}, "llm": {"name": "-"},
                                   "chat_template": "vicuna_v1"},
        "datasets": {"conv": {"kind": "conversations", "remote": str(mds)}},
        "data": {"max_seq_len": 4096, "packing": True, "shuffle": False},
        "stages": {"s": {"trainable": ["llm"], "mixture": "conv", "mixer": "repeat", "optimizer": {"lr": 1e-5},
                         "global_batch_size": batch_size, "duration": "1ep"}},
    })
    return build_dataloader(recipe, "s", model, batch_size)


class LlavaStyleDataset(torch.utils.data.Dataset):
    """LLaVA v1's LazySupervisedDataset + preprocess_v1, rewritten for the comparison."""

    IMAGE_INDEX = -200
    SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
              "The assistant gives helpful, detailed, and polite answers to the user's questions.")

    def __init__(self, root: Path, tokenizer) -> None:
        from transformers import CLIPImageProcessor

        self.root, self.tokenizer = root, tokenizer
        self.records = json.loads((root / "llava.json").read_text())
        self.processor = CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                                            image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))

    def __len__(self) -> int:
        return len(self.records)

    def _ids(self, text: str) -> list[int]:  # tokenizer_image_token
        chunks = [self.tokenizer(c).input_ids for c in text.split("<image>")]
        ids = list(chunks[0])
        for c in chunks[1:]:
            ids += [self.IMAGE_INDEX] + c[1:] if c[:1] == [self.tokenizer.bos_token_id] else [self.IMAGE_INDEX] + c
        return ids

    def __getitem__(self, i: int) -> dict:
        rec = self.records[i]
        image = Image.open(self.root / "images" / rec["image"]).convert("RGB")
        side = max(image.size)  # expand2square
        square = Image.new("RGB", (side, side), tuple(int(m * 255) for m in CLIP_MEAN))
        square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
        pixels = self.processor.preprocess(square, return_tensors="pt")["pixel_values"][0]
        eos = self.tokenizer.eos_token
        text = self.SYSTEM + " "
        for turn in rec["conversations"]:
            text += ("USER: " + turn["value"] + " ") if turn["from"] == "human" else ("ASSISTANT: " + turn["value"] + eos)
        ids = torch.tensor(self._ids(text))
        labels = ids.clone()
        cur = 1
        labels[:cur] = -100
        for rou in text.split(eos):
            if not rou:
                break
            parts = rou.split("ASSISTANT: ")
            rou_len, instr_len = len(self._ids(rou)), len(self._ids(parts[0] + "ASSISTANT: ")) - 2
            labels[cur : cur + instr_len] = -100
            cur += rou_len
        labels[cur:] = -100
        return {"input_ids": ids, "labels": labels, "image": pixels}


def llava_collate(items: list[dict], pad: int) -> dict:
    from torch.nn.utils.rnn import pad_sequence

    ids = pad_sequence([x["input_ids"] for x in items], batch_first=True, padding_value=pad)
    return {"input_ids": ids, "labels": pad_sequence([x["labels"] for x in items], batch_first=True, padding_value=-100),
            "attention_mask": ids.ne(pad), "images": torch.stack([x["image"] for x in items])}


def rate(make_loader, n: int, repeats: int) -> float:
    """Best samples/s over ``repeats`` full passes."""
    best = 0.0
    for _ in range(repeats):
        loader = make_loader()
        start = time.perf_counter()
        for _batch in loader:
            pass
        best = max(best, n / (time.perf_counter() - start))
        del loader
    return best


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tokenizer", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--max-image-side", type=int, default=None,
                        help="convert with `vlmkit convert --max-image-side N` (default: MDS holds the original files)")
    parser.add_argument("--quick", action="store_true", help="tiny run that only checks the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.repeats, args.tokenizer = 16, 1, "tiny"
    torch.set_num_threads(1)
    tokenizer = load_tokenizer(args.tokenizer)
    samples = make_samples(args.samples)
    with tempfile.TemporaryDirectory() as tmp:
        llava, mds = write_llava(samples, Path(tmp) / "llava"), Path(tmp) / "mds"
        report = write_mds(llava, mds, args.max_image_side)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        baseline = rate(lambda: torch.utils.data.DataLoader(LlavaStyleDataset(llava, tokenizer), batch_size=args.batch_size,
                                                             collate_fn=lambda b: llava_collate(b, pad)), args.samples, args.repeats)
        ours = rate(lambda: vlmkit_loader(mds, tokenizer, args.batch_size), args.samples, args.repeats)
    stored = (f"converted with --max-image-side {args.max_image_side} ({report.images_downscaled}/{report.images_written} downscaled)"
              if args.max_image_side else "converted, original files")
    print(f"samples: {args.samples}, batch {args.batch_size}, tokenizer {args.tokenizer}, images {IMAGE_SIZE}px, MDS images: {stored}")
    print(f"llava-style baseline: {baseline:.1f} samples/s")
    print(f"vlmkit pipeline:      {ours:.1f} samples/s")
    ratio = ours / baseline
    print(f"ratio: {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    sys.exit(0 if main() > 0 else 1)
