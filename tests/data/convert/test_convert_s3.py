"""Shards on an object store: written to and read back from a local S3 endpoint (the ``s3`` fixture)."""

from __future__ import annotations

import json

from convert_helpers import BUCKET, GOOD_FILES, read_samples, write_jsonl

from vlmkit.data.convert import REPORT_FILE, convert
from vlmkit.data.schema import unpack_images


def _read_remote(remote: str, local) -> list[dict]:
    from streaming import StreamingDataset

    ds = StreamingDataset(remote=remote, local=str(local), batch_size=1, shuffle=False)
    return [ds[i] for i in range(len(ds))]


def test_uploaded_shards_stream_back_from_s3(s3, tmp_path, image_dir):
    write_jsonl(image_dir / "p.jsonl", [{"image": n, "caption": f"c{i}"} for i, n in enumerate(["good.png", "good.jpg"] * 5)])
    convert("pairs", image_dir / "p.jsonl", tmp_path / "out", size_limit=2000)
    local = read_samples(tmp_path / "out")
    for path in sorted((tmp_path / "out").iterdir()):
        s3.upload_file(str(path), BUCKET, f"pairs/{path.name}")
    remote = _read_remote(f"s3://{BUCKET}/pairs", tmp_path / "cache")
    assert [(s["id"], s["content"]) for s in remote] == [(s["id"], s["content"]) for s in local]
    assert len(local) == 10 and len(list((tmp_path / "cache").glob("shard.*.mds"))) > 1


def test_convert_writes_straight_to_s3(s3, tmp_path, image_dir):
    write_jsonl(image_dir / "p.jsonl", [{"image": "good.png", "caption": "a"}, {"image": "missing.png", "caption": "b"}])
    report = convert("pairs", image_dir / "p.jsonl", f"s3://{BUCKET}/direct")
    assert report.samples_written == 1
    saved = json.loads(s3.get_object(Bucket=BUCKET, Key=f"direct/{REPORT_FILE}")["Body"].read())
    assert saved["skipped"] == {"missing_image": 1}
    [sample] = _read_remote(f"s3://{BUCKET}/direct", tmp_path / "cache")
    assert sample["content"] == {"caption": "a"}
    assert unpack_images(sample["images"]) == [GOOD_FILES["good.png"]]
