"""Small MDS shards in the schema of :mod:`vlmkit.data.schema`, written with ``streaming.MDSWriter``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

from PIL import Image
from streaming import MDSWriter

from vlmkit.data.schema import COLUMNS, pack_images


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
