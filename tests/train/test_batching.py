"""Global batch -> per-process batch and microbatches; splitting VLM batches keeps rows with their images."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

from vlmkit.train.batching import data_spec, images_per_row, plan_batch, split_batch
from vlmkit.train.metrics import count_target_samples, count_target_tokens


@given(world=st.integers(1, 16), per=st.integers(1, 64), micro=st.integers(1, 64))
def test_plan_divides_the_global_batch(world, per, micro):
    plan = plan_batch(world * per, world, micro if micro <= per else None, on_gpu=False)
    assert plan.device_batch == per
    assert plan.device_batch * plan.world_size == plan.global_batch
    assert plan.grad_accum * plan.microbatch >= plan.device_batch > (plan.grad_accum - 1) * plan.microbatch


@pytest.mark.parametrize("args, message", [
    ((10, 4, None, False), "does not divide over 4 processes"),
    ((8, 2, 8, False), "larger than the per-process batch 4"),
    ((8, 1, "auto", False), "'auto' needs a GPU"),
])
def test_plan_errors_name_the_fix(args, message):
    with pytest.raises(ValueError, match=message):
        plan_batch(*args)


def test_auto_on_gpu_leaves_accumulation_to_composer():
    plan = plan_batch(32, 4, "auto", on_gpu=True)
    assert plan.microbatch == "auto" and plan.grad_accum is None and plan.device_batch == 8


def _batch(images: list[int], k: int = 3, image_id: int = 99):
    rows = [[1, 2] + [image_id] * (k * n) + [3, 4] for n in images]
    width = max(map(len, rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    # each image's pixels hold its global index, so the split can be checked
    pixels = torch.arange(sum(images), dtype=torch.float).view(-1, 1, 1, 1).expand(-1, 3, 2, 2)
    return {"input_ids": ids, "labels": ids.clone(), "attention_mask": (ids != 0).long(),
            "position_ids": torch.arange(width).expand(len(rows), -1), "pixel_values": pixels, "meta": "keep"}


@settings(max_examples=40, deadline=None)
@given(images=st.lists(st.integers(0, 3), min_size=1, max_size=9), size=st.integers(1, 9))
def test_split_keeps_each_rows_images(images, size):
    batch = _batch(images)
    parts = split_batch(batch, size, image_token_id=99, tokens_per_image=3)
    assert [p["input_ids"].shape[0] for p in parts] == [min(size, len(images) - i) for i in range(0, len(images), size)]
    assert torch.equal(torch.cat([p["input_ids"] for p in parts]), batch["input_ids"])
    assert torch.equal(torch.cat([p["pixel_values"] for p in parts]), batch["pixel_values"])
    for p in parts:
        assert p["pixel_values"].shape[0] == int(images_per_row(p["input_ids"], 99, 3).sum())
        assert p["meta"] == "keep"


def test_data_spec_counts_rows_real_tokens_and_targets():
    batch = _batch([1, 0, 2])
    spec = data_spec([batch], image_token_id=99, tokens_per_image=3)
    assert spec.get_num_samples_in_batch(batch) == 3
    tokens = spec.get_num_tokens_in_batch(batch, token_type="total")
    assert tokens == int(batch["attention_mask"].sum())
    assert spec.get_num_tokens_in_batch(batch, token_type="loss_generating") == count_target_tokens(batch, 99)


def test_sample_reduction_weighs_batches_by_their_scored_samples():
    ids = torch.tensor([[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 0, 0]])
    labels = torch.tensor([[-100, 7, -100, -100, -100, -100], [-100, 8, 9, 5, -100, -100]])  # row 0: 2nd sample unscored
    pos = torch.tensor([[0, 1, 0, 1, 2, 3], [0, 1, 2, 3, 0, 0]])
    batch = {"input_ids": ids, "labels": labels, "position_ids": pos, "attention_mask": (ids > 0).long()}
    assert count_target_samples(batch, 99) == 2 and count_target_tokens(batch, 99) == 4
    by_sample = data_spec([batch], image_token_id=99, tokens_per_image=3, loss_reduction="sample")
    by_token = data_spec([batch], image_token_id=99, tokens_per_image=3)
    assert by_sample.get_num_tokens_in_batch(batch, token_type="loss_generating") == 2
    assert by_token.get_num_tokens_in_batch(batch, token_type="loss_generating") == 4
