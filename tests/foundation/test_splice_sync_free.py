"""The sync-free image splice: placeholder positions precomputed by the collator give the same
embeddings and gradients as the model finding them itself, and the training path's splice runs no
``nonzero`` / ``masked_scatter`` (the ops that make the host wait on the accelerator)."""

from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from vlmkit import build_vlm
from vlmkit.data.collate import STATS_KEY, VLMCollator
from vlmkit.model.splice import placeholder_positions, splice_image_features
from vlmkit.train.batching import split_batch

IMG = 99
D = 3
SYNCING = {"nonzero", "masked_scatter", "masked_scatter_", "masked_select"}


@st.composite
def layouts(draw):
    """``[B, L]`` ids with image runs of length ``k`` anywhere (also at row ends and back to back)."""
    k = draw(st.integers(1, 3))
    rows, n = [], 0
    for _ in range(draw(st.integers(1, 4))):
        row = []
        for _ in range(draw(st.integers(0, 3))):
            row += draw(st.lists(st.integers(0, 9), max_size=3))
            if draw(st.booleans()):
                row, n = row + [IMG] * k, n + 1
        rows.append(row)
    length = max(1, max(map(len, rows)))
    ids = torch.tensor([r + [0] * (length - len(r)) for r in rows])
    return ids, n, k


def reading_order(ids: torch.Tensor) -> torch.Tensor:
    """Flat placeholder indices written out by hand (row by row, left to right)."""
    length = ids.shape[1]
    return torch.tensor([r * length + c for r, row in enumerate(ids.tolist()) for c, t in enumerate(row) if t == IMG],
                        dtype=torch.long)


class AtenCounter(TorchDispatchMode):
    """Counts the aten ops (overload packets) run inside it, forward and backward."""

    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def splice_with_grads(ids, n, k, positions):
    torch.manual_seed(0)
    embeds = torch.randn(*ids.shape, D, requires_grad=True)
    feats = torch.randn(n, k, D, requires_grad=True)
    out = splice_image_features(embeds, ids, feats, IMG, positions)
    weight = torch.randn_like(out)
    (out * weight).sum().backward()
    return out, embeds.grad, feats.grad


@settings(max_examples=60, deadline=None)
@given(layouts())
def test_precomputed_positions_give_identical_embeddings_and_gradients(layout):
    ids, n, k = layout
    assert torch.equal(placeholder_positions(ids, IMG), reading_order(ids))
    given_out, given_de, given_df = splice_with_grads(ids, n, k, reading_order(ids))
    found_out, found_de, found_df = splice_with_grads(ids, n, k, None)
    # the former masked_scatter splice is the reference for both
    torch.manual_seed(0)
    embeds, feats = torch.randn(*ids.shape, D), torch.randn(n, k, D)
    reference = embeds.masked_scatter((ids == IMG).unsqueeze(-1), feats.reshape(-1, D)) if n else embeds
    assert torch.equal(given_out, reference) and torch.equal(found_out, reference)
    assert torch.equal(given_de, found_de)
    if n:
        assert torch.equal(given_df, found_df)


def test_positions_of_the_wrong_count_are_refused():
    ids = torch.tensor([[1, IMG, IMG, 2]])
    with pytest.raises(ValueError, match="image_positions lists 1 placeholder positions"):
        splice_image_features(torch.zeros(1, 4, D), ids, torch.ones(1, 2, D), IMG, torch.tensor([1]))


@settings(max_examples=40, deadline=None)
@given(layouts(), st.integers(1, 4))
def test_microbatches_carry_their_own_positions(layout, size):
    ids, n, k = layout
    batch = {"input_ids": ids, "pixel_values": torch.randn(n, 3, 2, 2), "image_positions": placeholder_positions(ids, IMG)}
    for part in split_batch(batch, size, image_token_id=IMG, tokens_per_image=k):
        assert torch.equal(part["image_positions"], reading_order(part["input_ids"]))
        assert part["pixel_values"].shape[0] * k == part["image_positions"].numel()


@pytest.fixture(scope="module")
def collated():
    torch.manual_seed(0)
    model = build_vlm({"vision_encoder": {"name": "tiny_vit", "image_size": 16, "patch_size": 8},
                       "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}})
    k, img = model.num_image_tokens, model.image_token_id
    samples = [{"input_ids": [5] + [img] * k * n + [6, 7], "labels": [-100] * (1 + k * n) + [6, 7],
                "pixel_values": torch.randn(n, 3, 16, 16)} for n in (1, 0, 2, 1)]
    collate = VLMCollator(max_seq_len=64, pad_token_id=0, image_size=16, image_token_id=img, num_image_tokens=k)
    batch = collate(samples)
    batch.pop(STATS_KEY)
    return model, batch


def embed_ops(model, batch, positions):
    model.zero_grad()
    with AtenCounter() as counter:
        model.embed(batch["input_ids"], batch["pixel_values"], positions).square().sum().backward()
    return counter.ops


def test_collated_training_splice_runs_no_syncing_op(collated):
    model, batch = collated
    assert torch.equal(batch["image_positions"], placeholder_positions(batch["input_ids"], model.image_token_id))
    ops = embed_ops(model, batch, batch["image_positions"])
    assert ops["index_copy"] >= 1
    assert not SYNCING & set(ops), {op: ops[op] for op in SYNCING & set(ops)}
    fallback = embed_ops(model, batch, None)
    assert fallback["nonzero"] == 1  # the counter sees the sync when positions are missing


def test_collated_positions_give_the_same_loss_and_gradients(collated):
    model, batch = collated
    results = []
    for positions in (batch["image_positions"], None):
        model.zero_grad()
        inputs = {k: v for k, v in batch.items() if k != "image_positions"}
        out = model(**inputs, image_positions=positions)
        out.loss.backward()
        results.append((out.loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert torch.equal(loss_a, loss_b)
    assert len(grads_a) == len(grads_b) > 0 and all(torch.equal(a, b) for a, b in zip(grads_a, grads_b))
