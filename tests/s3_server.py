"""The local S3 endpoint of the tests that read or write object stores (moto's server on 127.0.0.1).

Use it from a conftest with ``from s3_server import s3  # noqa: F401`` (the fixture), and name the
bucket it creates with :data:`BUCKET`."""

from __future__ import annotations

import logging
import socket
import urllib.request

import pytest

BUCKET = "vlmkit-shards"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    """A fresh local S3 endpoint with the bucket ``BUCKET``; Streaming, Composer and boto3 find it
    through ``S3_ENDPOINT_URL`` and the AWS variables. Yields a boto3 client."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # the servers of one process share moto's state: start from an empty store, not the last test's objects
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    for key, value in {"S3_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=url)
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()
