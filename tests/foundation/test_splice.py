"""Property tests of image splicing, label masking and the packed attention mask."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmkit.model.splice import (
    IGNORE_INDEX,
    causal_lm_loss,
    mask_image_labels,
    packed_attention_mask,
    segment_ids,
    shift_targets,
    splice_image_features,
)

IMG = 99
D = 4


@st.composite
def batches(draw):
    """Rows of text ids (0..9) with image runs of length k at random places; images in reading order."""
    k = draw(st.integers(1, 4))
    rows, n_images = [], 0
    for _ in range(draw(st.integers(1, 4))):
        row = []
        for _ in range(draw(st.integers(0, 3))):
            row += draw(st.lists(st.integers(0, 9), max_size=4))
            if draw(st.booleans()):
                row += [IMG] * k
                n_images += 1
        rows.append(row)
    length = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), length), 0)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long) if r else ids[i, :0]
    return ids, n_images, k


@settings(max_examples=60, deadline=None)
@given(batches())
def test_splice_places_each_image_run_in_reading_order(batch):
    ids, n, k = batch
    embeds = torch.zeros(*ids.shape, D)
    feats = torch.arange(n * k * D, dtype=torch.float).view(n, k, D) + 1
    out = splice_image_features(embeds, ids, feats, IMG)
    slots = (ids == IMG).nonzero().tolist()  # row-major: reading order
    assert len(slots) == n * k
    for j, (b, t) in enumerate(slots):
        assert torch.equal(out[b, t], feats.view(-1, D)[j])
    assert torch.all(out[ids != IMG] == 0), "text positions must keep their embeddings"


@settings(max_examples=40, deadline=None)
@given(batches(), st.integers(-2, 2).filter(lambda d: d != 0))
def test_splice_rejects_image_count_mismatch(batch, delta):
    ids, n, k = batch
    m = n + delta
    if m < 0 or (n == 0 and m == 0):
        return
    feats = torch.ones(m, k, D)
    with pytest.raises(ValueError, match="placeholders and images disagree"):
        splice_image_features(torch.zeros(*ids.shape, D), ids, feats, IMG)


def test_splice_without_images_is_identity_and_keeps_grad():
    ids = torch.tensor([[1, 2, 3]])
    embeds = torch.randn(1, 3, D, requires_grad=True)
    out = splice_image_features(embeds, ids, torch.zeros(0, 2, D), IMG)
    assert out is embeds


def test_splice_gradient_flows_to_features():
    ids = torch.tensor([[1, IMG, IMG, 2]])
    feats = torch.randn(1, 2, D, requires_grad=True)
    out = splice_image_features(torch.zeros(1, 4, D), ids, feats, IMG)
    out.sum().backward()
    assert torch.equal(feats.grad, torch.ones_like(feats))


@settings(max_examples=40, deadline=None)
@given(batches())
def test_image_positions_never_carry_loss(batch):
    ids, _, _ = batch
    labels = mask_image_labels(ids.clone(), ids, IMG)
    assert torch.all(labels[ids == IMG] == IGNORE_INDEX)
    assert torch.equal(labels[ids != IMG], ids[ids != IMG])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.integers(0, 3))
def test_packed_mask_blocks_other_samples_and_padding(lengths, pad):
    pos = torch.cat([torch.arange(n) for n in lengths] + [torch.zeros(pad, dtype=torch.long)]).unsqueeze(0)
    # padding keeps position 0 but is marked by the attention mask
    att = torch.cat([torch.ones(sum(lengths)), torch.zeros(pad)]).long().unsqueeze(0)
    mask = packed_attention_mask(pos, att, torch.float32)[0, 0]
    seg = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    total = sum(lengths)
    for q in range(total):
        for kv in range(total + pad):
            allowed = kv < total and seg[kv] == seg[q] and kv <= q
            assert (mask[q, kv] == 0) == allowed, (q, kv)
    assert torch.isfinite(mask.logsumexp(-1)).all(), "no row may be fully blocked"


def test_segment_ids_and_shift_targets_cut_sample_boundaries():
    pos = torch.tensor([[0, 1, 2, 0, 1]])
    assert segment_ids(pos).tolist() == [[1, 1, 1, 2, 2]]
    labels = torch.tensor([[5, 6, 7, 8, 9]])
    assert shift_targets(labels, pos).tolist() == [[6, 7, IGNORE_INDEX, 9]]


def test_loss_is_token_mean_and_zero_without_targets():
    logits = torch.randn(2, 4, 7, requires_grad=True)
    labels = torch.tensor([[1, 2, IGNORE_INDEX, 3], [IGNORE_INDEX] * 4])
    loss, n = causal_lm_loss(logits, labels)
    expected = torch.nn.functional.cross_entropy(logits[0, [0, 2]], torch.tensor([2, 3]))
    assert n.item() == 2 and torch.allclose(loss, expected)
    empty, n0 = causal_lm_loss(logits, torch.full((2, 4), IGNORE_INDEX))
    assert n0.item() == 0 and empty.item() == 0.0
    empty.backward()  # still has a graph


@st.composite
def packed_rows(draw):
    """Rows of packed samples (lengths 1-6) with random target masks: ``labels``, ``position_ids``
    ``[B, L]`` and the samples of each row."""
    rows = [[[draw(st.integers(0, 6)) if draw(st.booleans()) else IGNORE_INDEX for _ in range(draw(st.integers(1, 6)))]
             for _ in range(draw(st.integers(1, 3)))] for _ in range(draw(st.integers(1, 3)))]
    width = max(sum(len(x) for x in row) for row in rows)
    labels = torch.full((len(rows), width), IGNORE_INDEX)
    pos = torch.zeros(len(rows), width, dtype=torch.long)  # padding: one-token segments without targets
    for i, row in enumerate(rows):
        at = 0
        for sample in row:
            labels[i, at:at + len(sample)] = torch.tensor(sample)
            pos[i, at:at + len(sample)] = torch.arange(len(sample))
            at += len(sample)
    return labels, pos, rows


@settings(max_examples=60, deadline=None)
@given(packed_rows(), st.booleans())
def test_sample_reduction_is_the_mean_of_each_samples_own_loss(case, only_targets):
    labels, pos, rows = case
    torch.manual_seed(0)
    logits = torch.randn(*labels.shape, 7)
    own, counts = [], set()
    for i, row in enumerate(rows):
        at = 0
        for sample in row:  # each sample scored alone, as its own row
            loss, n = causal_lm_loss(logits[i:i + 1, at:at + len(sample)], labels[i:i + 1, at:at + len(sample)])
            if n > 0:
                own.append(loss)
                counts.add(int(n))
            at += len(sample)
    positions = None
    if only_targets:  # logits kept only where some row has a target, as in training
        positions = (shift_targets(labels, pos) != IGNORE_INDEX).any(0).nonzero().flatten()
        logits = logits[:, positions]
    got, n = causal_lm_loss(logits, labels, pos, positions, reduction="sample")
    torch.testing.assert_close(got, torch.stack(own).mean() if own else torch.tensor(0.0))
    token, n_token = causal_lm_loss(logits, labels, pos, positions)
    assert n == n_token
    if len(counts) == 1:  # every sample has as many targets: both reductions agree
        torch.testing.assert_close(got, token)


def test_sample_reduction_weighs_a_short_answer_like_a_long_one():
    logits = torch.zeros(1, 8, 5)
    logits[0, 0, 1] = 10.0  # the one-token answer is right
    labels = torch.tensor([[0, 1, 0, 2, 2, 2, 2, 2]])  # samples: [0, 1] and [0, 2, 2, 2, 2, 2]
    pos = torch.tensor([[0, 1, 0, 1, 2, 3, 4, 5]])
    sample, _ = causal_lm_loss(logits, labels, pos, reduction="sample")
    token, _ = causal_lm_loss(logits, labels, pos)
    wrong = torch.log(torch.tensor(5.0))  # uniform logits
    torch.testing.assert_close(sample, (0 + wrong) / 2, atol=1e-3, rtol=0)
    torch.testing.assert_close(token, 5 * wrong / 6, atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="loss reduction must be one of"):
        causal_lm_loss(logits, labels, pos, reduction="row")
