"""Shards on an object store: written to and read back from a local S3 endpoint (moto on 127.0.0.1)."""

from __future__ import annotations

import json
import socket

import pytest
from convert_helpers import GOOD_FILES, read_samples, write_jsonl

from vlmkit.data.convert import REPORT_FILE, convert
from vlmkit.data.schema import unpack_images

BUCKET = "vlmkit-shards"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    """A fresh S3 endpoint with one bucket; Streaming and boto3 find it through the environment."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for key, value in {"S3_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=url)
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


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
