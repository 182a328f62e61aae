"""``vlmkit convert`` on hostile or broken inputs: links out of the image root, tar members that
expand in memory, JSON arrays that break off, empty inputs and an OUT that is a file."""

from __future__ import annotations

import json
import os
import tarfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.data.convert.convert_helpers import GOOD_FILES, encode, read_samples, write_jsonl
from vlmkit.cli import main
from vlmkit.data.convert import convert
from vlmkit.data.convert.jsonfiles import read_json
from vlmkit.data.convert.conversion_report import SkipRecord
from vlmkit.data.images import MAX_BYTES


@pytest.fixture
def linked_root(tmp_path) -> Path:
    """An image root holding a good image, a link to it, and links that lead outside the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(encode("JPEG", "black"))
    root = tmp_path / "root"
    root.mkdir()
    (root / "good.png").write_bytes(GOOD_FILES["good.png"])
    links = {"same.png": root / "good.png", "passwd.png": Path("/etc/passwd"), "environ.png": Path("/proc/self/environ"),
             "secret.jpg": outside / "secret.jpg", "far": outside, "hop.png": root / "far" / "secret.jpg"}
    for name, target in links.items():
        os.symlink(target, root / name)
    return root


def test_links_out_of_the_image_root_are_refused(linked_root, tmp_path):
    names = ["good.png", "same.png", "passwd.png", "environ.png", "secret.jpg", "far/secret.jpg", "hop.png"]
    write_jsonl(linked_root / "p.jsonl", [{"id": n, "image": n, "caption": "c"} for n in names])
    report = convert("pairs", linked_root / "p.jsonl", tmp_path / "out")
    samples = read_samples(tmp_path / "out")
    assert [s["id"] for s in samples] == ["good.png", "same.png"]  # a link inside the root is fine
    assert report.skipped == {"unsafe_path": 5}
    assert all(image == GOOD_FILES["good.png"] for s in samples for image in s["images"])


def _sparse_member(name: str, data: bytes, declared: int) -> bytes:
    """A GNU sparse tar member holding ``data`` (one 512-byte block) that expands to ``declared`` bytes."""
    info = tarfile.TarInfo(name)
    info.type, info.size = tarfile.GNUTYPE_SPARSE, 512
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[386:410] = tarfile.itn(0, 12, tarfile.GNU_FORMAT) + tarfile.itn(512, 12, tarfile.GNU_FORMAT)  # one chunk at 0
    header[482] = 0
    header[483:495] = tarfile.itn(declared, 12, tarfile.GNU_FORMAT)  # the size once expanded
    header[148:156] = b" " * 8
    header[148:155] = b"%06o\0" % tarfile.calc_chksums(bytes(header))[0]
    return bytes(header) + data[:512].ljust(512, b"\0")


def _member(name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info.tobuf(tarfile.GNU_FORMAT) + data.ljust(-(-len(data) // 512) * 512, b"\0")


def test_a_sparse_tar_member_is_refused_from_its_header(tmp_path):
    declared = 256 << 20  # 256 MiB once expanded, in a tar of a few KB
    blocks = [
        _member("000.png", GOOD_FILES["good.png"]), _member("000.txt", b"kept"),
        _sparse_member("001.png", GOOD_FILES["good.png"], declared), _member("001.txt", b"refused"),
        _member("002.png", GOOD_FILES["good.png"]), _sparse_member("002.bin", b"never read", declared), _member("002.txt", b"kept too"),
    ]
    (tmp_path / "in.tar").write_bytes(b"".join(blocks) + b"\0" * 1024)
    assert (tmp_path / "in.tar").stat().st_size < 16 << 10 and declared > MAX_BYTES
    tracemalloc.start()
    try:
        report = convert("pairs", tmp_path / "in.tar", tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak} bytes allocated"
    assert [s["content"]["caption"] for s in read_samples(tmp_path / "out")] == ["kept", "kept too"]
    assert report.skipped == {"member_too_large": 1} and "001.png declares 268435456 bytes" in report.examples["member_too_large"][0]


@pytest.mark.parametrize("content", ["", "  \n", "[]", "[\n]\n"])
def test_an_empty_input_is_an_error_and_writes_nothing(tmp_path, content, capsys):
    (tmp_path / "in.json").write_text(content)
    with pytest.raises(ValueError, match=r"no records in .*in\.json: the input is empty; nothing was written"):
        convert("text", tmp_path / "in.json", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert main(["convert", "text", str(tmp_path / "in.json"), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_an_empty_file_among_others_is_reported(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "hello"}])
    (tmp_path / "b.jsonl").write_text("")
    report = convert("text", [tmp_path / "a.jsonl", tmp_path / "b.jsonl"], tmp_path / "out")
    assert report.samples_written == 1 and report.empty_inputs == [str(tmp_path / "b.jsonl")]
    assert f"1 input files held no records: {tmp_path / 'b.jsonl'}" in report.summary()
    assert report.to_dict()["empty_inputs"] == [str(tmp_path / "b.jsonl")]


@pytest.mark.parametrize("overwrite", [False, True])
def test_out_that_is_a_file_is_one_line_and_the_file_is_kept(tmp_path, overwrite, capsys):
    write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    (tmp_path / "taken").write_text("mine")
    flags = ["--overwrite"] if overwrite else []
    for out, says in ((tmp_path / "taken", "is the file"), (tmp_path / "taken" / "sub", "lies under the file")):
        assert main(["convert", "text", str(tmp_path / "in.jsonl"), str(out), *flags]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"output {out} {says} {tmp_path / 'taken'}; give a folder" in err
    assert (tmp_path / "taken").read_text() == "mine"


def test_a_truncated_pretty_printed_array_keeps_its_complete_records(tmp_path, capsys):
    records = [{"id": f"r{i}", "text": f"record {i}"} for i in range(10)]
    text = json.dumps(records, indent=2)
    cut = text.index('"r8"')  # inside record 8
    (tmp_path / "in.json").write_text(text[:cut])
    assert main(["convert", "text", str(tmp_path / "in.json"), str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "read 9 records, wrote 8 samples" in out  # by record, not by the file's 35 lines
    start = text.rindex("{", 0, cut)  # the unreadable rest begins with record 8
    assert f"truncated_json              1   e.g. in.json[8]: the JSON array breaks off at line {text[:start].count(chr(10)) + 1}, column 3 (byte {start})" in out
    assert "the 8 complete records before it were kept" in out
    assert [s["id"] for s in read_samples(tmp_path / "out")] == [f"r{i}" for i in range(8)]


def test_jsonl_and_single_values_in_a_json_file(tmp_path):
    (tmp_path / "lines.json").write_text('{"text": "a"}\n{"text": "b"}\nnot json\n')
    (tmp_path / "one.json").write_text(json.dumps({"text": "c"}, indent=2))
    (tmp_path / "junk.json").write_text("{\n  'text': 1\n}\n")
    (tmp_path / "tail.json").write_text('[{"text": "d"}] {"text": "e"}')
    report = convert("text", [tmp_path / n for n in ("lines.json", "one.json", "junk.json", "tail.json")], tmp_path / "out")
    assert [s["content"]["text"] for s in read_samples(tmp_path / "out")] == ["a", "b", "c", "d"]
    assert report.records_read == 7 and report.skipped == {"bad_json": 3}


values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.dictionaries(st.text(max_size=5), values, max_size=3), max_size=6),
       indent=st.sampled_from([None, 1, 4]), where=st.floats(0, 1))
def test_an_array_cut_at_any_byte_keeps_exactly_its_complete_records(tmp_path_factory, records, indent, where):
    """Written as LLaVA's files are (``json.dump``, any indent, non-ASCII kept) and cut at any byte:
    the records wholly before the cut come back, in order, and a cut short of the end is reported once."""
    pieces = [json.dumps(r, indent=indent, ensure_ascii=False).encode() for r in records]
    sep, head, tail = (b",\n", b"[\n", b"\n]\n") if indent else (b", ", b"[", b"]")
    data, ends = head, []
    for i, piece in enumerate(pieces):
        data += (sep if i else b"") + piece
        ends.append(len(data))
    data += tail
    cut = round(where * len(data))
    path = tmp_path_factory.mktemp("cut") / "in.json"
    path.write_bytes(data[:cut])
    out = list(read_json(path))
    kept = [record for _, record in out if not isinstance(record, SkipRecord)]
    cuts = [record for _, record in out if isinstance(record, SkipRecord)]
    assert kept == [r for r, end in zip(records, ends) if end <= cut]
    if cut == 0 or data[:cut].rstrip() == data.rstrip():
        assert cuts == []
    else:
        assert [c.reason for c in cuts] == ["truncated_json"] and out[-1][1] is cuts[0]
        assert f"the {len(kept)} complete records before it were kept" in cuts[0].detail
