"""Each input format converts to the schema the reader expects, checked by hand on small inputs."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import pytest
from convert_helpers import GOOD_FILES, encode, read_samples, write_jsonl
from PIL import Image

from vlmkit.data.convert import REPORT_FILE, convert


def _contents(samples):
    return [s["content"] for s in samples]


def test_llava_cc3m_json_pairs(tmp_path, image_dir):
    records = [
        {"id": "GCC_1", "image": "good.png", "conversations": [
            {"from": "human", "value": "<image>\nWrite a terse but informative summary of the picture."},
            {"from": "gpt", "value": "a red square on a table"}]},
        {"id": "GCC_2", "image": "good.jpg", "caption": "  blue sky  "},
        {"id": "GCC_3", "image": "anim.gif", "caption": "a gif"},
    ]
    (image_dir / "chat.json").write_text(json.dumps(records))
    report = convert("pairs", image_dir / "chat.json", tmp_path / "out")
    samples = read_samples(tmp_path / "out")
    assert [s["id"] for s in samples] == ["GCC_1", "GCC_2", "GCC_3"]
    assert _contents(samples) == [{"caption": "a red square on a table"}, {"caption": "blue sky"}, {"caption": "a gif"}]
    assert all(s["kind"] == "pairs" and len(s["images"]) == 1 for s in samples)
    assert samples[0]["images"][0] == GOOD_FILES["good.png"]  # valid PNG/JPEG bytes stored as they are
    assert samples[1]["images"][0] == GOOD_FILES["good.jpg"]
    assert Image.open(io.BytesIO(samples[2]["images"][0])).format == "PNG"  # GIF re-encoded
    assert (report.records_read, report.samples_written, report.records_skipped) == (3, 3, 0)


def test_coyo_jsonl_with_urls_and_paths(tmp_path, image_dir):
    write_jsonl(tmp_path / "coyo.jsonl", [
        {"url": "https://cdn.example.com/x/good.jpg?w=300", "text": "from a url"},
        {"image_path": "good.png", "caption": "from a path"},
        {"url": "https://cdn.example.com/missing.jpg", "text": "not downloaded"},
    ])
    report = convert("pairs", tmp_path / "coyo.jsonl", tmp_path / "out", image_root=image_dir)
    samples = read_samples(tmp_path / "out")
    assert _contents(samples) == [{"caption": "from a url"}, {"caption": "from a path"}]
    assert samples[0]["id"] == "coyo.jsonl:1"
    assert dict(report.skipped) == {"missing_image": 1}


def test_laion_parquet(tmp_path, image_dir):
    pa = pytest.importorskip("pyarrow", reason="parquet input needs pyarrow (vlmkit[dev])")
    import pyarrow.parquet as pq

    table = pa.table({"image_path": ["good.png", "good.jpg"], "caption": ["one", "two"]})
    pq.write_table(table, tmp_path / "laion.parquet")
    convert("pairs", tmp_path / "laion.parquet", tmp_path / "out", image_root=image_dir)
    assert _contents(read_samples(tmp_path / "out")) == [{"caption": "one"}, {"caption": "two"}]


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    with pytest.raises(ValueError, match="needs pyarrow"):
        convert("pairs", tmp_path / "t.parquet", tmp_path / "out")


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_webdataset_tar(tmp_path):
    _tar(tmp_path / "shard-000.tar", [
        ("a/000.jpg", GOOD_FILES["good.jpg"]), ("a/000.txt", "caption from txt".encode()),
        ("a/001.png", GOOD_FILES["good.png"]), ("a/001.json", json.dumps({"caption": "caption from json"}).encode()),
        ("a/002.jpg", GOOD_FILES["good.jpg"]),  # no caption
        ("a/003.txt", b"no image"),
    ])
    report = convert("pairs", tmp_path / "shard-000.tar", tmp_path / "out")
    samples = read_samples(tmp_path / "out")
    assert [(s["id"], s["content"]["caption"]) for s in samples] == [("a/000", "caption from txt"), ("a/001", "caption from json")]
    assert samples[1]["images"][0] == GOOD_FILES["good.png"]
    assert dict(report.skipped) == {"missing_field": 2}


def test_corrupt_tar_counts_once_and_keeps_what_came_before(tmp_path):
    data = _tar(tmp_path / "ok.tar", [("k0.jpg", GOOD_FILES["good.jpg"]), ("k0.txt", b"first"), ("k1.jpg", GOOD_FILES["good.jpg"] * 40), ("k1.txt", b"x")]).read_bytes()
    (tmp_path / "bad.tar").write_bytes(data[: 3072 + 100])  # cut inside k1.jpg
    report = convert("pairs", tmp_path / "bad.tar", tmp_path / "out")
    assert _contents(read_samples(tmp_path / "out")) == [{"caption": "first"}]
    assert dict(report.skipped) == {"corrupt_input": 1}


def test_mmc4_images_go_before_their_matched_sentence(tmp_path, image_dir):
    doc = {
        "url": "https://example.com/post",
        "text_list": ["Intro.", "A red thing.", "A blue thing and more."],
        "image_info": [
            {"image_name": "good.jpg", "raw_url": "https://x/b.jpg", "matched_text_index": 2, "matched_sim": 0.31},
            {"image_name": "good.png", "raw_url": "https://x/a.png", "matched_text_index": 1},  # sim from the matrix
            {"image_base64": base64.b64encode(GOOD_FILES["good.png"]).decode(), "matched_text_index": 2, "matched_sim": 0.2},
        ],
        "similarity_matrix": [[0.1, 0.2, 0.31], [0.05, 0.27, 0.1], [0.0, 0.0, 0.2]],
    }
    write_jsonl(image_dir / "mmc4.jsonl", [doc])
    convert("interleaved", image_dir / "mmc4.jsonl", tmp_path / "out")
    [sample] = read_samples(tmp_path / "out")
    assert sample["content"]["segments"] == [
        {"text": "Intro."},
        {"image": 0, "similarity": 0.27},
        {"text": "A red thing."},
        {"image": 1, "similarity": 0.31},
        {"image": 2, "similarity": 0.2},
        {"text": "A blue thing and more."},
    ]
    assert sample["images"] == [GOOD_FILES["good.png"], GOOD_FILES["good.jpg"], GOOD_FILES["good.png"]]


def test_llava_instruct_conversations(tmp_path, image_dir):
    records = [
        {"id": "m1", "image": "good.png", "conversations": [
            {"from": "human", "value": "<image>\nWhat colour?"}, {"from": "gpt", "value": "Red."},
            {"from": "human", "value": "Sure?"}, {"from": "gpt", "value": "Yes."}]},
        {"id": "m2", "image": "good.jpg", "conversations": [
            {"from": "human", "value": "What is it?"}, {"from": "gpt", "value": "A square."}]},
        {"id": "m3", "images": ["good.png", "good.jpg"], "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Compare <image> and <image>."}, {"from": "gpt", "value": "Red vs blue."}]},
        {"id": "m4", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]},
        {"id": "bad", "images": ["good.png", "good.jpg"], "conversations": [
            {"from": "human", "value": "<image> only one marker"}, {"from": "gpt", "value": "x"}]},
    ]
    (image_dir / "instruct.json").write_text(json.dumps(records))
    report = convert("conversations", image_dir / "instruct.json", tmp_path / "out")
    samples = {s["id"]: s for s in read_samples(tmp_path / "out")}
    assert samples["m1"]["content"]["messages"] == [
        {"role": "user", "content": "<image>\nWhat colour?"}, {"role": "assistant", "content": "Red."},
        {"role": "user", "content": "Sure?"}, {"role": "assistant", "content": "Yes."}]
    assert samples["m2"]["content"]["messages"][0] == {"role": "user", "content": "<image>\nWhat is it?"}  # LLaVA's rule
    assert samples["m3"]["images"] == [GOOD_FILES["good.png"], GOOD_FILES["good.jpg"]]
    assert samples["m3"]["content"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert samples["m4"]["images"] == []
    assert dict(report.skipped) == {"marker_mismatch": 1}


def test_text_jsonl_and_sharegpt(tmp_path):
    write_jsonl(tmp_path / "flan.jsonl", [{"text": "Plain text."}, {"text": "has <image> in it"}])
    (tmp_path / "sharegpt.json").write_text(json.dumps([
        {"id": "s1", "conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]},
        {"id": "s2", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]},
        {"id": "s3", "image": "x.png", "conversations": [{"from": "human", "value": "?"}, {"from": "gpt", "value": "!"}]},
    ]))
    report = convert("text", [tmp_path / "flan.jsonl", tmp_path / "sharegpt.json"], tmp_path / "out")
    assert _contents(read_samples(tmp_path / "out")) == [
        {"text": "Plain text."},
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]},
    ]
    assert dict(report.skipped) == {"marker_mismatch": 1, "unexpected_image": 1}


def test_parallel_workers_keep_order_and_output(tmp_path, image_dir):
    names = ["good.png", "good.jpg", "trunc.png", "anim.gif", "missing.png", "pic.bmp"] * 8
    write_jsonl(image_dir / "p.jsonl", [{"id": f"r{i}", "image": n, "caption": f"c{i}"} for i, n in enumerate(names)])
    one = convert("pairs", image_dir / "p.jsonl", tmp_path / "w1", workers=1)
    three = convert("pairs", image_dir / "p.jsonl", tmp_path / "w3", workers=3)
    assert read_samples(tmp_path / "w1") == read_samples(tmp_path / "w3")
    assert one.skipped == three.skipped == {"truncated_image": 8, "missing_image": 8}
    assert one.samples_written == 32


def test_report_file_and_summary(tmp_path, image_dir):
    write_jsonl(image_dir / "p.jsonl", [{"image": "good.png", "caption": "ok"}, {"image": "empty.png", "caption": "x"}])
    report = convert("pairs", image_dir / "p.jsonl", tmp_path / "out")
    saved = json.loads((tmp_path / "out" / REPORT_FILE).read_text())
    assert saved["records_read"] == 2 and saved["samples_written"] == 1 and saved["skipped"] == {"empty_image": 1}
    assert saved["examples"]["empty_image"] == ["p.jsonl:2: zero bytes"]
    lines = report.summary().splitlines()
    assert lines[0].startswith("pairs: read 2 records, wrote 1 samples")
    assert lines[2].split()[:2] == ["empty_image", "1"]


def test_compressed_shards_read_back_with_streaming(tmp_path, image_dir):
    from streaming import StreamingDataset

    write_jsonl(image_dir / "p.jsonl", [{"image": "good.png", "caption": f"c{i}"} for i in range(20)])
    convert("pairs", image_dir / "p.jsonl", tmp_path / "out", compression="zstd", size_limit=300)
    assert len(json.loads((tmp_path / "out" / "index.json").read_text())["shards"]) > 1
    ds = StreamingDataset(local=str(tmp_path / "out"), batch_size=1, shuffle=False)
    assert [ds[i]["content"]["caption"] for i in range(len(ds))] == [f"c{i}" for i in range(20)]


def test_user_errors(tmp_path, image_dir):
    with pytest.raises(ValueError, match="unknown kind 'pair'"):
        convert("pair", image_dir, tmp_path / "o1")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert("pairs", tmp_path / "nope.json", tmp_path / "o2")
    with pytest.raises(ValueError, match="unsupported input format '.csv'"):
        (tmp_path / "x.csv").write_text("a,b")
        convert("pairs", tmp_path / "x.csv", tmp_path / "o3")
    write_jsonl(tmp_path / "p.jsonl", [{"image": "good.png", "caption": "c"}])
    convert("pairs", tmp_path / "p.jsonl", tmp_path / "o4", image_root=image_dir)
    with pytest.raises(ValueError, match="not empty; pick a new folder or pass --overwrite"):
        convert("pairs", tmp_path / "p.jsonl", tmp_path / "o4", image_root=image_dir)
    again = convert("pairs", tmp_path / "p.jsonl", tmp_path / "o4", image_root=image_dir, overwrite=True)
    assert again.samples_written == 1 and len(read_samples(tmp_path / "o4")) == 1


def test_cli_prints_the_summary_and_one_line_errors(tmp_path, image_dir, capsys):
    from vlmkit.cli import main

    write_jsonl(image_dir / "p.jsonl", [{"image": "good.png", "caption": "c"}, "not a record"])
    assert main(["convert", "pairs", str(image_dir / "p.jsonl"), str(tmp_path / "out"), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "read 2 records, wrote 1 samples" in out and "not_an_object" in out
    assert main(["convert", "pairs", str(image_dir / "p.jsonl"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vlmkit convert: error:") and "--overwrite" in err[0]
