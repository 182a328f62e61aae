"""Checkpoints on an object store (``trainer.remote_run_dir``, issue #16 item 4), against the local
moto S3 server: every checkpoint, its checksum and the stage's final weights and ``done.json`` are
uploaded; a run on a machine whose ``run_dir`` is empty resumes from the store bit-exactly, skips a
stage finished there, and detects a damaged object; store errors are one line."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from s3_server import BUCKET, s3  # noqa: F401  (the fixture)
from safetensors.torch import load_file

from vlmkit.config import validate_recipe
from vlmkit.storage.atomic import sha256_file
from vlmkit.storage.layout import read_history
from vlmkit.train.remote import RemoteFolder, deletion_order, files_of, remote_checkpoints, vouches
from vlmkit.train.stages import run_recipe
from vlmkit.testing.synthetic import synthetic_factory
from train_helpers import recipe_dict, stage

DATA = synthetic_factory(num_rows=64)
STAGES = {"s": stage(["projector", "llm"], batches=4)}
REMOTE = f"s3://{BUCKET}/runs/tiny"
FINISHED = {"s/model.safetensors", "s/history.jsonl", "s/done.json"}


def recipe_at(run_dir: Path, **trainer):
    return validate_recipe(recipe_dict(run_dir, stages=STAGES, **{"save_num_checkpoints_to_keep": -1, **trainer}))


def outcome(run_dir: Path):
    return load_file(run_dir / "s" / "model.safetensors"), [(r["step"], r["loss"]) for r in read_history(run_dir, ["s"])]


def assert_same(got, expected):
    assert got[1] == expected[1]
    assert got[0].keys() == expected[0].keys() and all(got[0][k].equal(v) for k, v in expected[0].items())


def listing(client) -> dict[str, bytes]:
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="runs/tiny/").get("Contents", [])]
    return {k.removeprefix("runs/tiny/"): client.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def delete(client, *names: str) -> None:
    for name in names:
        client.delete_object(Bucket=BUCKET, Key=f"runs/tiny/{name}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The stage trained once without interruption and without a store."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    run_recipe(recipe_at(run_dir), dataloader_factory=DATA)
    return outcome(run_dir)


def interrupted_on_the_store(client, tmp_path: Path, **trainer) -> None:
    """Train the stage with the store, then take from the store what a kill right after the upload
    of its checkpoint at batch 2 would not have put there."""
    run_recipe(recipe_at(tmp_path / "first", remote_run_dir=REMOTE, **trainer), dataloader_factory=DATA)
    stored = listing(client)
    delete(client, *FINISHED, *(n for n in stored if n.startswith("s/ba4")))


def test_checkpoints_and_the_finished_stage_are_uploaded_and_a_fresh_run_dir_skips_it(s3, tmp_path, reference):
    run_recipe(recipe_at(tmp_path / "a", remote_run_dir=REMOTE, save_num_checkpoints_to_keep=1), dataloader_factory=DATA)
    stored = listing(s3)
    assert set(stored) == {"s/ba4.pt", "s/ba4.pt.sha256"} | FINISHED  # ba2 was pruned there as here
    local = tmp_path / "a"
    assert all(stored[name] == (local / name).read_bytes() for name in stored)
    assert_same(outcome(local), reference)

    again = run_recipe(recipe_at(tmp_path / "b", remote_run_dir=REMOTE), dataloader_factory=DATA)["s"]
    assert again["skipped"] and again["batches"] == 4
    assert not list((tmp_path / "b" / "s").glob("ba*"))  # nothing trained, no checkpoint fetched
    assert_same(outcome(tmp_path / "b"), reference)


def test_a_fresh_run_dir_resumes_from_the_newest_checkpoint_on_the_store_bit_exactly(s3, tmp_path, reference):
    interrupted_on_the_store(s3, tmp_path)
    summary = run_recipe(recipe_at(tmp_path / "fresh", remote_run_dir=REMOTE), dataloader_factory=DATA)["s"]
    assert Path(summary["resumed_from"]).name == "ba2.pt" and summary["batches"] == 4
    assert_same(outcome(tmp_path / "fresh"), reference)
    assert {"s/ba2.pt", "s/ba4.pt", "s/ba4.pt.sha256"} | FINISHED <= set(listing(s3))


def test_a_damaged_checkpoint_on_the_store_is_detected_and_the_previous_one_used(s3, tmp_path, reference, caplog):
    interrupted_on_the_store(s3, tmp_path)
    first = tmp_path / "first" / "s"
    for name in ("ba4.pt", "ba4.pt.sha256"):  # put back the newest checkpoint, one byte flipped
        data = bytearray((first / name).read_bytes())
        if name == "ba4.pt":
            data[len(data) // 2] ^= 0x01
        s3.put_object(Bucket=BUCKET, Key=f"runs/tiny/s/{name}", Body=bytes(data))
    with caplog.at_level(logging.WARNING):
        summary = run_recipe(recipe_at(tmp_path / "fresh", remote_run_dir=REMOTE), dataloader_factory=DATA)["s"]
    assert any("s3://" in r.message and "ba4.pt is damaged" in r.message for r in caplog.records)
    assert Path(summary["resumed_from"]).name == "ba2.pt"
    assert (tmp_path / "fresh" / "s" / "ba4.pt.damaged").is_file()  # kept for inspection
    assert_same(outcome(tmp_path / "fresh"), reference)
    stored, fresh = listing(s3), tmp_path / "fresh" / "s"
    assert stored["s/ba4.pt"] == (fresh / "ba4.pt").read_bytes() != (fresh / "ba4.pt.damaged").read_bytes()  # a good one again
    assert stored["s/ba4.pt.sha256"].decode().split()[0] == hashlib.sha256(stored["s/ba4.pt"]).hexdigest()


def test_damaged_final_weights_on_the_store_are_refused_in_one_line(s3, tmp_path):
    run_recipe(recipe_at(tmp_path / "a", remote_run_dir=REMOTE), dataloader_factory=DATA)
    s3.put_object(Bucket=BUCKET, Key="runs/tiny/s/model.safetensors", Body=b"not the weights")
    with pytest.raises(ValueError, match=rf"^{REMOTE}/s/model.safetensors: missing or damaged final weights of stage 's'") as err:
        run_recipe(recipe_at(tmp_path / "b", remote_run_dir=REMOTE), dataloader_factory=DATA)
    assert "\n" not in str(err.value) and not (tmp_path / "b" / "s" / "done.json").exists()


def test_resuming_a_sharded_run_from_the_store_is_bit_exact(s3, tmp_path, reference):
    sharded = {"parallelism": "fsdp2", "checkpoint_format": "sharded"}
    interrupted_on_the_store(s3, tmp_path, **sharded)
    assert {"s/ba2/.metadata", "s/ba2/__0_0.distcp", "s/ba2/manifest.sha256"} <= set(listing(s3))
    summary = run_recipe(recipe_at(tmp_path / "fresh", remote_run_dir=REMOTE, **sharded), dataloader_factory=DATA)["s"]
    assert Path(summary["resumed_from"]).name == "ba2"
    assert_same(outcome(tmp_path / "fresh"), reference)


def test_a_missing_bucket_is_one_line_naming_the_uri_and_the_fix(s3, tmp_path):
    with pytest.raises(ValueError, match=r"^trainer.remote_run_dir s3://no-such-bucket/x/s: cannot list it .*NoSuchBucket.*; "
                                         r"create the bucket, or fix trainer.remote_run_dir$") as err:
        run_recipe(recipe_at(tmp_path / "a", remote_run_dir="s3://no-such-bucket/x"), dataloader_factory=DATA)
    assert "\n" not in str(err.value) and not (tmp_path / "a").exists()  # refused before anything trained


def test_no_credentials_is_one_line_saying_what_to_set(s3, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ValueError, match=rf"^trainer.remote_run_dir {REMOTE}/s: cannot list it \(Unable to locate credentials\); "
                                         "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        RemoteFolder(f"{REMOTE}/s").sizes()


@pytest.mark.parametrize("uri", ["gs://bucket/run", "/local/path", "s3://", "runs/x"])
def test_a_remote_run_dir_that_is_not_an_s3_uri_is_refused(tmp_path, uri):
    with pytest.raises(ValueError, match=r"remote_run_dir[\s\S]*is not an s3:// URI; write s3://bucket/prefix"):
        recipe_at(tmp_path, remote_run_dir=uri)


@given(batch=st.integers(0, 10**6), shard_files=st.lists(st.from_regex(r"__[0-9]_0\.distcp|\.metadata", fullmatch=True), unique=True))
def test_upload_order_puts_what_vouches_for_a_checkpoint_last_and_deletion_first(tmp_path_factory, batch, shard_files):
    """For a file or a sharded folder, the object whose presence says "complete" is uploaded after
    every other and deleted before them, and the listing groups all of them under their batch."""
    folder = tmp_path_factory.mktemp("ckpt")
    (folder / f"ba{batch}.pt").write_bytes(b"x")
    (folder / f"ba{batch}").mkdir()
    for name in [*shard_files, "manifest.sha256"]:
        (folder / f"ba{batch}" / name).write_bytes(b"y")
    for path in (folder / f"ba{batch}.pt", folder / f"ba{batch}"):
        names = files_of(path)
        assert [vouches(n) for n in names] == [False] * (len(names) - 1) + [True]
        assert [vouches(n) for n in deletion_order(names)] == [True] + [False] * (len(names) - 1)
        assert remote_checkpoints({n: 1 for n in [*names, "done.json", "latest.pt", f"ba{batch}.pt.damaged"]}) == {batch: names}


def test_an_object_goes_up_and_comes_down_unchanged(s3, tmp_path):
    """Upload, listing with sizes, and download to a temporary name then renamed."""
    (tmp_path / "f").write_bytes(b"data" * 100)
    remote = RemoteFolder(f"{REMOTE}/s")
    remote.upload(tmp_path / "f", "f")
    remote.download("f", tmp_path / "g")
    assert sha256_file(tmp_path / "g") == sha256_file(tmp_path / "f") and remote.sizes() == {"f": 400}
