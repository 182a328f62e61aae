"""Packing: best-fit invariants (hypothesis) and the loss of a packed batch equals the
token-weighted mean of the same samples' losses run alone."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmkit.data.collate import STATS_KEY, VLMCollator
from vlmkit.data.packing import balanced_fit, best_fit, position_ids
from vlmkit.data.tokenize import SampleEncoder
from vlmkit.model.vlm import build_vlm


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(1, 64), max_size=60), extra=st.integers(0, 64))
def test_best_fit_invariants(lengths, extra):
    capacity = max(lengths, default=1) + extra
    bins = best_fit(lengths, capacity)
    flat = sorted(i for b in bins for i in b)
    assert flat == list(range(len(lengths)))  # nothing lost, nothing duplicated
    assert all(sum(lengths[i] for i in b) <= capacity for b in bins)
    assert all(b == sorted(b) for b in bins) and bins == sorted(bins, key=lambda b: b[0])
    # never two bins that would fit in one (a best-fit bin is opened only when nothing fits)
    loads = sorted(sum(lengths[i] for i in b) for b in bins)
    assert len(loads) < 2 or loads[0] + loads[1] > capacity
    assert best_fit(lengths, capacity) == bins  # deterministic


@settings(max_examples=300, deadline=None)
@given(lengths=st.lists(st.integers(1, 64), max_size=60), extra=st.integers(0, 128))
def test_balanced_fit_keeps_rows_and_shortens_the_longest(lengths, extra):
    capacity = max(lengths, default=1) + extra
    rows, plain = balanced_fit(lengths, capacity), best_fit(lengths, capacity)
    loads = [sum(lengths[i] for i in r) for r in rows]
    assert sorted(i for r in rows for i in r) == list(range(len(lengths)))
    assert all(r == sorted(r) for r in rows) and rows == sorted(rows, key=lambda r: r[0])
    assert len(rows) <= len(plain) and max(loads, default=0) <= capacity
    assert max(loads, default=0) <= max((sum(lengths[i] for i in r) for r in plain), default=0)
    assert balanced_fit(lengths, capacity) == rows


def test_balanced_fit_evens_out_a_small_batch():
    lengths = [100, 100, 60, 60, 60]  # best-fit: rows of 260 and 120 -> 520 padded positions
    assert [sum(lengths[i] for i in r) for r in best_fit(lengths, 300)] == [260, 120]
    assert [sum(lengths[i] for i in r) for r in balanced_fit(lengths, 300)] == [200, 180]  # 400


@given(lengths=st.lists(st.integers(1, 20), min_size=1, max_size=6), pad=st.integers(0, 10))
def test_position_ids_restart_per_sample(lengths, pad):
    pos = position_ids(lengths, sum(lengths) + pad).tolist()
    starts = [sum(lengths[:k]) for k in range(len(lengths))]
    assert [i for i, p in enumerate(pos) if p == 0] == starts
    for s, n in zip(starts, lengths):
        assert pos[s : s + n] == list(range(n))
    assert pos[sum(lengths):] == list(range(lengths[-1], lengths[-1] + pad))  # padding continues


def test_packed_loss_equals_token_weighted_separate_losses():
    torch.manual_seed(0)
    model = build_vlm({"vision_encoder": {"name": "tiny_vit", "image_size": 16, "patch_size": 8},
                       "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}}).eval()
    enc = SampleEncoder.for_model(model, "chatml")
    img = lambda: torch.randn(1, 3, 16, 16)  # noqa: E731
    raw = [
        ("pairs", {"caption": "a red square"}, 1),
        ("text", {"text": "just some words here"}, 0),
        ("conversations", {"messages": [{"role": "user", "content": "<image>hi"}, {"role": "assistant", "content": "ok then"}]}, 1),
        ("interleaved", {"segments": [{"image": 0}, {"text": "one."}, {"image": 1}, {"text": "two."}]}, 2),
    ]
    samples = []
    for kind, content, n in raw:
        s = enc.encode(kind, content, list(range(n)))
        samples.append({"input_ids": s["input_ids"], "labels": s["labels"],
                        "pixel_values": torch.cat([img() for _ in range(n)]) if n else torch.zeros(0, 3, 16, 16)})
    collate = VLMCollator(max_seq_len=256, pad_token_id=model.tokenizer.pad_token_id, image_size=16,
                          image_token_id=model.image_token_id, num_image_tokens=model.num_image_tokens)
    with torch.no_grad():
        packed = collate(samples)
        stats = packed.pop(STATS_KEY)
        assert packed["input_ids"].shape[0] == 1 and stats.rows == 1  # all four in one row
        out = model(**packed)
        total, count = 0.0, 0
        for s in samples:
            alone = collate([s])
            alone.pop(STATS_KEY)
            o = model(**alone)
            total += float(o.loss) * int(o.num_target_tokens)
            count += int(o.num_target_tokens)
    assert int(out.num_target_tokens) == count
    torch.testing.assert_close(out.loss, torch.tensor(total / count), rtol=1e-5, atol=1e-5)
