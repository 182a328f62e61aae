"""Truncation at max_seq_len and the image cap never cut an image run: an image that does not fit
is dropped with its placeholders, and the images list always matches the runs left."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import K, encoder
from vlmkit.data.tokenize import image_runs, join_samples

segments = st.lists(
    st.one_of(st.text("abc .", min_size=1, max_size=20).map(lambda t: {"text": t}), st.just({"image": None})),
    min_size=1, max_size=12,
)


def numbered(segs):
    out, n = [], 0
    for s in segs:
        if "image" in s:
            out.append({"image": n, "similarity": 1.0})
            n += 1
        else:
            out.append(s)
    return out, [f"img{i}" for i in range(n)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segs=segments, max_len=st.integers(1, 80), cap=st.integers(0, 4))
def test_truncation_keeps_whole_image_runs(tiny_tok, segs, max_len, cap):
    content, images = numbered(segs)
    img = tiny_tok.convert_tokens_to_ids("<image>")
    full = encoder(tiny_tok, max_images=cap).encode("interleaved", {"segments": content}, images)
    s = encoder(tiny_tok, max_seq_len=max_len, max_images=cap).encode("interleaved", {"segments": content}, images)
    ids = s["input_ids"]
    assert len(ids) <= max_len and len(ids) == len(s["labels"])
    runs = image_runs(ids, img, K)
    assert ids.count(img) == K * len(runs) == K * len(s["images"])  # no partial run
    assert all(ids[r : r + K] == [img] * K for r in runs)
    assert s["images"] == images[: len(s["images"])] and len(s["images"]) <= cap
    assert ids == full["input_ids"][: len(ids)]  # a prefix of the untruncated sample
    if len(full["input_ids"]) > max_len:  # cut only as far back as the start of a run that did not fit
        assert len(ids) == max_len or full["input_ids"][len(ids)] == img


def test_join_samples_keeps_one_bos(smol_tokenizer):
    enc = encoder(smol_tokenizer)
    a = enc.encode("pairs", {"caption": "A cat."}, ["a"])
    b = enc.encode("pairs", {"caption": "A dog."}, ["b"])
    joined = join_samples([a, b], enc.bos_ids)
    assert enc.bos_ids == [smol_tokenizer.convert_tokens_to_ids("<|im_start|>")]
    assert joined["input_ids"] == a["input_ids"] + b["input_ids"][1:]
    assert joined["labels"] == a["labels"] + b["labels"][1:]
    assert joined["images"] == ["a", "b"]
