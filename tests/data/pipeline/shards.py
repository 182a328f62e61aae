"""Small MDS shards in the schema of :mod:`vlmkit.data.schema`, written with ``streaming.MDSWriter``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

from PIL import Image
from streaming import MDSWriter

from vlmkit.data.schema import COLUMNS, pack_images

MODEL = {"vision_encoder": {"name": "tiny_vit", "image_size": 16, "patch_size": 8},
         "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}, "chat_template": "chatml"}


def png(color: tuple[int, int, int], size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def write(folder: Path, records: Iterable[dict]) -> Path:
    """Write ``records`` (``id``, ``kind``, ``content``, ``images`` as a list of bytes) to ``folder``."""
    with MDSWriter(out=str(folder), columns=COLUMNS, size_limit=1 << 14) as out:
        for r in records:
            out.write({"id": r["id"], "kind": r["kind"], "content": r["content"], "images": pack_images(r.get("images", []))})
    return folder


def pairs(n: int, start: int = 0, tag: str = "pair") -> list[dict]:
    return [{"id": f"{tag}{i}", "kind": "pairs", "content": {"caption": f"{tag} number {i}."}, "images": [png((i % 256, 0, 0))]}
            for i in range(start, start + n)]


def texts(n: int, tag: str = "text") -> list[dict]:
    return [{"id": f"{tag}{i}", "kind": "text", "content": {"text": f"{tag} {i} " + "word " * (i % 7)}} for i in range(n)]


def conversations(n: int) -> list[dict]:
    return [{"id": f"conv{i}", "kind": "conversations", "content": {"messages": [
        {"role": "user", "content": f"<image>\nWhat is shape {i}?"},
        {"role": "assistant", "content": f"It is shape {i}."}]}, "images": [png((0, i % 256, 0))]} for i in range(n)]


def interleaved(n: int) -> list[dict]:
    return [{"id": f"doc{i}", "kind": "interleaved", "content": {"segments": [
        {"text": f"Document {i}."}, {"image": 0, "similarity": 0.9}, {"text": "A picture."},
        {"image": 1, "similarity": 0.1}, {"text": "Another one."}]},
        "images": [png((0, 0, i % 256)), png((9, 9, 9))]} for i in range(n)]


def standard_set(root: Path) -> dict[str, Path]:
    """Four folders, one per kind; the pairs hold 30 good records and 2 bad ones (a truncated PNG,
    an empty caption)."""
    bad = [{"id": "bad0", "kind": "pairs", "content": {"caption": "broken"}, "images": [b"\x89PNG\r\n\x1a\nxx"]},
           {"id": "bad1", "kind": "pairs", "content": {"caption": ""}, "images": [png((1, 2, 3))]}]
    return {
        "pairs": write(root / "pairs", pairs(30) + bad),
        "conv": write(root / "conv", conversations(20)),
        "docs": write(root / "docs", interleaved(12)),
        "text": write(root / "text", texts(40)),
    }


def recipe(dirs: dict[str, Path], mixture, *, packing=True, max_seq_len=128, options=None, mixer="proportional", max_images=6):
    """A one-stage recipe over :func:`standard_set` folders (names pairs, conv, docs, text)."""
    from vlmkit.config import validate_recipe

    kinds = {"pairs": "pairs", "conv": "conversations", "docs": "interleaved", "text": "text", "long": "interleaved"}
    datasets = {n: {"kind": kinds[n], "remote": str(dirs[n]), "options": (options or {}).get(n, {})} for n in kinds if n in dirs}
    return validate_recipe({
        "name": "t", "model": MODEL, "datasets": datasets,
        "data": {"max_seq_len": max_seq_len, "packing": packing, "shuffle_seed": 3, "max_images_per_sample": max_images},
        "stages": {"s": {"trainable": ["projector"], "mixture": mixture, "mixer": mixer,
                         "optimizer": {"lr": 1e-3}, "global_batch_size": 8, "duration": "1ep"}},
    })


def batches(loader, n=None) -> list[dict]:
    """The first ``n`` batches of ``loader`` (all when ``n`` is None)."""
    out = []
    for b in loader:
        out.append(b)
        if n is not None and len(out) == n:
            break
    return out
