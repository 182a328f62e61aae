"""Fuzzing every converter: mixes of good records and records broken in one known way.

For each generated input the test knows what must come out: every good record, in order, with
exactly the expected content, and every bad record counted under its reason. Nothing may crash.
"""

from __future__ import annotations

import base64
import io
import json
import math
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from convert_helpers import BAD_FILES, GOOD_FILES, read_samples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmkit.data.convert import convert
from vlmkit.data.images import REASONS, ImageError, prepare_image

FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RAW = "__raw_line__"  # a case whose "record" is a raw line written as is

# Text that survives as a good value: no lone surrogates, no image marker, not blank.
words = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(lambda s: s.strip() and "<image>" not in s)
wrong_types = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
not_objects = st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3), st.none())
good_image = st.sampled_from(sorted(GOOD_FILES))
bad_image = st.one_of(
    st.sampled_from([(name, reason) for name, (_, reason) in BAD_FILES.items()]),
    st.tuples(st.text("abc", min_size=1, max_size=5).map(lambda s: f"missing_{s}.png"), st.just("missing_image")),
    st.tuples(st.sampled_from(["../good.png", "../../etc/passwd", "/etc/hosts", "a/../../x.png"]), st.just("unsafe_path")),
    st.tuples(st.integers(), st.just("wrong_type")),
)


def lone_surrogate_line(record: dict, key: str) -> str:
    """The JSON line of ``record`` with ``key``'s string replaced by one holding a lone surrogate."""
    return json.dumps({**record, key: "@@"}).replace('"@@"', '"bad \\ud800 text"')


@st.composite
def pairs_case(draw):
    caption = draw(words)
    if draw(st.booleans()):
        return {"image": draw(good_image), "caption": caption}, "ok", {"caption": caption.strip()}
    image = draw(good_image)
    options = [
        ({"image": image}, "missing_field"),
        ({"image": image, "caption": draw(wrong_types)}, "wrong_type"),
        ({"image": image, "caption": draw(st.sampled_from(["", "  ", "\n\t"]))}, "empty_text"),
        ({"image": image, "caption": f"{caption} <image>"}, "marker_mismatch"),
        ({RAW: lone_surrogate_line({"image": image}, "caption")}, "bad_unicode"),
        ({"image": image, "conversations": []}, "empty_conversation"),
        (draw(not_objects), "not_an_object"),
        ({RAW: '{"caption": "unterminated'}, "bad_json"),
        ({RAW: "[" * 100_000}, "bad_json"),
    ]
    ref, reason = draw(bad_image)
    options.append(({"image": ref, "caption": caption}, reason))
    record, reason = draw(st.sampled_from(options))
    return record, reason, None


def _turns(draw, n_pairs):
    turns = []
    for _ in range(n_pairs):
        turns += [{"from": "human", "value": draw(words)}, {"from": "gpt", "value": draw(words)}]
    return turns


def _messages(turns):
    roles = {"human": "user", "gpt": "assistant", "system": "system"}
    return [{"role": roles[t["from"]], "content": t["value"]} for t in turns]


@st.composite
def conversations_case(draw):
    turns = _turns(draw, draw(st.integers(1, 3)))
    if draw(st.booleans()):
        record = {"id": "x", "conversations": turns}
        expected = _messages(turns)
        n = draw(st.integers(0, 2))
        if n == 1:
            record["image"] = draw(good_image)
            expected[0]["content"] = "<image>\n" + expected[0]["content"]  # LLaVA's rule for a bare single image
        elif n == 2:
            record["images"] = [draw(good_image), draw(good_image)]
            turns[0]["value"] = expected[0]["content"] = "<image> and <image> " + turns[0]["value"]
        return record, "ok", {"messages": expected}
    ref, image_reason = draw(bad_image)
    options = [
        ({"image": "good.png"}, "missing_field"),
        ({"conversations": []}, "empty_conversation"),
        ({"conversations": draw(st.one_of(st.integers(), st.text(max_size=3)))}, "wrong_type"),
        ({"conversations": [{"from": "robot", "value": "hi"}, *turns]}, "bad_role"),
        ({"conversations": [{"from": "human", "value": 3}, *turns]}, "wrong_type"),
        ({"conversations": [{"from": "human"}, *turns]}, "missing_field"),
        ({"conversations": [draw(not_objects), *turns]}, "not_an_object"),
        ({"conversations": [t for t in turns if t["from"] == "human"]}, "no_assistant_turn"),
        ({"images": ["good.png", "good.jpg"], "conversations": turns}, "marker_mismatch"),
        ({"conversations": [{"from": "human", "value": "<image>"}, *turns]}, "marker_mismatch"),
        ({"images": "good.png", "conversations": turns}, "wrong_type"),
        ({"image": ref, "conversations": turns}, image_reason),
        ({RAW: '{"conversations": [{"from": "human", "value": "\\udfff"}, {"from": "gpt", "value": "x"}]}'}, "bad_unicode"),
        (draw(not_objects), "not_an_object"),
        ({RAW: "{'single': 'quotes'}"}, "bad_json"),
    ]
    record, reason = draw(st.sampled_from(options))
    return record, reason, None


@st.composite
def interleaved_case(draw):
    sentences = draw(st.lists(words, min_size=1, max_size=5))
    infos, expected_images = [], []
    for i in range(draw(st.integers(0, 4))):
        index, sim = draw(st.integers(0, len(sentences) - 1)), draw(st.floats(-1, 1))
        info = {"image_name": draw(good_image), "raw_url": "http://x", "matched_text_index": index, "matched_sim": sim}
        if draw(st.booleans()):
            info = {"image_base64": base64.b64encode(GOOD_FILES["good.png"]).decode(), "matched_text_index": index, "matched_sim": sim}
        infos.append(info)
        expected_images.append((index, i, sim))
    doc = {"text_list": sentences, "image_info": infos, "similarity_matrix": []}
    if draw(st.booleans()):
        segments, order = [], sorted(expected_images)
        for j, sentence in enumerate(sentences):
            segments += [{"image": k, "similarity": sim} for k, (idx, _, sim) in enumerate(order) if idx == j]
            segments.append({"text": sentence})
        return doc, "ok", {"segments": segments}
    ref, image_reason = draw(bad_image)
    info = {"image_name": "good.png", "matched_text_index": 0, "matched_sim": 0.3}
    options = [
        ({"image_info": [info]}, "missing_field"),
        ({"text_list": "one sentence", "image_info": []}, "wrong_type"),
        ({"text_list": [" ", ""], "image_info": []}, "empty_text"),
        ({"text_list": ["a <image> b"], "image_info": []}, "marker_mismatch"),
        ({"text_list": sentences, "image_info": [{**info, "matched_text_index": len(sentences)}]}, "bad_index"),
        ({"text_list": sentences, "image_info": [{**info, "matched_text_index": -1}]}, "bad_index"),
        ({"text_list": sentences, "image_info": [{**info, "matched_text_index": draw(st.sampled_from(["0", 0.0, True]))}]}, "wrong_type"),
        ({"text_list": sentences, "image_info": [{**info, "matched_sim": draw(st.sampled_from([math.nan, math.inf, "0.3"]))}]}, "wrong_type"),
        ({"text_list": sentences, "image_info": [{"image_name": "good.png", "matched_text_index": 0}]}, "missing_field"),
        ({"text_list": sentences, "image_info": [{"matched_text_index": 0, "matched_sim": 0.3}]}, "missing_field"),
        ({"text_list": sentences, "image_info": [{"image_base64": "***", "matched_text_index": 0, "matched_sim": 0.3}]}, "bad_base64"),
        ({"text_list": sentences, "image_info": [{**info, "image_name": ref}]}, image_reason),
        ({"text_list": sentences, "image_info": draw(st.sampled_from([{"a": 1}, 3]))}, "wrong_type"),
        ({"text_list": sentences, "image_info": [draw(not_objects.filter(lambda v: v is not None))]}, "not_an_object"),
        (draw(not_objects), "not_an_object"),
        ({RAW: '{"text_list": ['}, "bad_json"),
    ]
    record, reason = draw(st.sampled_from(options))
    return record, reason, None


@st.composite
def text_case(draw):
    if draw(st.booleans()):
        if draw(st.booleans()):
            value = draw(words)
            return {"text": value}, "ok", {"text": value.strip()}
        turns = _turns(draw, draw(st.integers(1, 2)))
        return {"conversations": turns}, "ok", {"messages": _messages(turns)}
    turns = _turns(draw, 1)
    options = [
        ({"text": draw(wrong_types)}, "wrong_type"),
        ({"text": "   "}, "empty_text"),
        ({"text": "see <image>"}, "marker_mismatch"),
        ({"conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "x"}]}, "marker_mismatch"),
        ({"image": "good.png", "text": "hi"}, "unexpected_image"),
        ({"conversations": []}, "empty_conversation"),
        ({"id": 1}, "missing_field"),
        ({"conversations": [{"from": "bot", "value": "x"}, *turns]}, "bad_role"),
        ({RAW: lone_surrogate_line({}, "text")}, "bad_unicode"),
        (draw(not_objects), "not_an_object"),
        ({RAW: "nope"}, "bad_json"),
    ]
    record, reason = draw(st.sampled_from(options))
    return record, reason, None


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    for name, data in GOOD_FILES.items():
        (root / name).write_bytes(data)
    for name, (data, _) in BAD_FILES.items():
        (root / name).write_bytes(data)
    return root


def check(kind: str, cases: list, root: Path) -> None:
    work = Path(tempfile.mkdtemp(dir=root))
    lines = [r[RAW] if isinstance(r, dict) and RAW in r else json.dumps(r) for r, _, _ in cases]
    (work / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = convert(kind, work / "in.jsonl", work / "out", image_root=root, workers=2)
    assert [s["content"] for s in read_samples(work / "out")] == [content for _, status, content in cases if status == "ok"]
    assert report.skipped == Counter(status for _, status, _ in cases if status != "ok")
    assert report.records_read == len(cases)


case_lists = {
    "pairs": pairs_case(),
    "conversations": conversations_case(),
    "interleaved": interleaved_case(),
    "text": text_case(),
}


@pytest.mark.parametrize("kind", sorted(case_lists))
def test_every_converter_keeps_good_records_and_counts_bad_ones(kind, fuzz_root):
    @FUZZ
    @given(cases=st.lists(case_lists[kind], min_size=1, max_size=10))
    def run(cases):
        check(kind, cases, fuzz_root)

    run()


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4), cut=st.integers(0, 2000))
def test_mutated_image_bytes_are_kept_or_skipped_by_what_the_decoder_says(edits, cut, fuzz_root):
    work = Path(tempfile.mkdtemp(dir=fuzz_root))
    expected = []
    records = []
    for i, name in enumerate(sorted(GOOD_FILES)):
        data = bytearray(GOOD_FILES[name])
        for pos, value in edits:
            data[pos % len(data)] = value
        data = bytes(data[: cut % (len(data) + 1)]) if i % 2 else bytes(data)
        (work / f"{i}_{name}").write_bytes(data)
        records.append({"image": f"{i}_{name}", "caption": f"c{i}"})
        try:
            prepare_image(data)
            expected.append("ok")
        except ImageError as exc:
            expected.append(exc.reason)
    (work / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = convert("pairs", work / "in.jsonl", work / "out")
    assert report.samples_written == expected.count("ok")
    assert report.skipped == Counter(r for r in expected if r != "ok")
    assert set(report.skipped) <= set(REASONS)


def _valid_tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for k in range(4):
            for name, data in ((f"{k:03d}.png", GOOD_FILES["good.png"]), (f"{k:03d}.txt", f"caption {k}".encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


VALID_TAR = _valid_tar()


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID_TAR) - 1), st.integers(0, 255)), max_size=8), cut=st.integers(0, len(VALID_TAR)))
def test_damaged_webdataset_tars_never_crash(edits, cut, fuzz_root):
    data = bytearray(VALID_TAR)
    for pos, value in edits:
        data[pos] = value
    work = Path(tempfile.mkdtemp(dir=fuzz_root))
    (work / "in.tar").write_bytes(bytes(data[:cut]))
    report = convert("pairs", work / "in.tar", work / "out")
    samples = read_samples(work / "out")
    assert report.records_read == report.samples_written + report.records_skipped == len(samples) + report.records_skipped
    for sample in samples:  # whatever survived is a usable pair
        assert prepare_image(sample["images"][0]) and sample["content"]["caption"].strip()
