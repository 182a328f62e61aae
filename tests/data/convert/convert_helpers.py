"""Test helpers: image bytes good and bad, a reader of written shards."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

from PIL import Image
from s3_server import BUCKET  # noqa: F401  (the bucket of the ``s3`` fixture)

from vlmkit.data.schema import unpack_images


def encode(fmt: str, color="red", size=(8, 6), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few dozen bytes that declares width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")


GOOD_FILES = {"good.png": encode("PNG"), "good.jpg": encode("JPEG", "blue"), "anim.gif": encode("GIF", "green"), "pic.bmp": encode("BMP", "white")}
BAD_FILES = {
    "trunc.png": (encode("PNG", size=(64, 64))[:-20], "truncated_image"),
    "trunc.jpg": (encode("JPEG", size=(64, 64))[:-40], "truncated_image"),
    "empty.png": (b"", "empty_image"),
    "bomb.png": (bomb_png(100_000, 100_000), "decompression_bomb"),
    "garbage.jpg": (b"\xff\xd8 this is not a jpeg at all \xff\xd9", "undecodable_image"),
}


def read_samples(out: Path) -> list[dict]:
    """Every sample of an uncompressed MDS folder, in order, with ``images`` unpacked."""
    from streaming.base.format import reader_from_json

    index = json.loads((Path(out) / "index.json").read_text())
    samples = []
    for shard in index["shards"]:
        reader = reader_from_json(str(out), None, shard)
        for i in range(len(reader)):
            sample = reader.get_item(i)
            sample["images"] = unpack_images(sample["images"])
            samples.append(sample)
    return samples


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
