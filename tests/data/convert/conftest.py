"""Fixtures of the converter tests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from convert_helpers import BAD_FILES, BUCKET, GOOD_FILES


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """A folder with every file of GOOD_FILES and BAD_FILES."""
    folder = tmp_path / "images"
    folder.mkdir()
    for name, data in GOOD_FILES.items():
        (folder / name).write_bytes(data)
    for name, (data, _) in BAD_FILES.items():
        (folder / name).write_bytes(data)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    """A fresh local S3 endpoint (moto on 127.0.0.1) with the bucket ``BUCKET``; Streaming and boto3
    find it through ``S3_ENDPOINT_URL`` and the AWS variables. Yields a boto3 client."""
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
