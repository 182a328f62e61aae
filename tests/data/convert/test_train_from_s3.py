"""A training stage whose shards live only on an object store: ``vlmkit convert`` writes them to
the local S3 endpoint (the ``s3`` fixture), a recipe names them with ``remote: s3://...``, and
``vlmkit train`` streams them down through ``S3_ENDPOINT_URL`` while it trains."""

from __future__ import annotations

import math

import yaml
from convert_helpers import BUCKET, write_jsonl

from vlmkit.cli import main
from vlmkit.data.convert import convert
from vlmkit.storage.layout import read_history

STEPS = 3


def recipe(tmp_path, remote: str) -> dict:
    return {
        "name": "s3-tiny",
        "model": {"vision_encoder": {"name": "tiny_vit", "image_size": 16}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}},
        "datasets": {"captions": {"kind": "pairs", "remote": remote, "local": str(tmp_path / "cache")}},
        "data": {"max_seq_len": 64},
        "stages": {"align": {"trainable": ["projector"], "mixture": {"captions": 1.0}, "optimizer": {"lr": 1e-2},
                             "scheduler": {"warmup": "1ba"}, "global_batch_size": 4, "duration": f"{STEPS}ba"}},
        "trainer": {"run_dir": str(tmp_path / "run"), "save_interval": f"{STEPS}ba", "progress_bar": False},
    }


def test_a_stage_trains_on_shards_streamed_from_s3(s3, tmp_path, image_dir):
    write_jsonl(image_dir / "p.jsonl", [{"image": name, "caption": f"caption number {i}"} for i, name in enumerate(["good.png", "good.jpg"] * 12)])
    remote = f"s3://{BUCKET}/captions"
    report = convert("pairs", image_dir / "p.jsonl", remote, size_limit=4000)  # several shards, none kept locally
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="captions/")["Contents"]]
    shards = [key for key in listed if key.endswith(".mds")]
    assert report.samples_written == 24 and len(shards) > 1
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe(tmp_path, remote)))

    assert main(["train", str(path)]) == 0

    rows = read_history(tmp_path / "run", ["align"])
    assert len(rows) == STEPS and all(r["tokens"] > 0 and math.isfinite(r["loss"]) for r in rows)
    downloaded = sorted(p.name for p in (tmp_path / "cache").rglob("shard.*.mds"))
    assert downloaded and set(downloaded) <= {key.rsplit("/", 1)[1] for key in shards}  # read from the bucket
    assert (tmp_path / "run" / "align" / "model.safetensors").is_file()
