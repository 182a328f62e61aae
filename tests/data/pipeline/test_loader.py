"""The loader end to end: MDS shards -> mixer -> StreamingDataset -> tokenize -> pack -> batches
per the batch contract; bad records skipped and counted; deterministic; exact mid-epoch resume."""

from __future__ import annotations

import pytest
import torch

from shards import batches, recipe
from vlmkit.data.loader import build_dataloader

def test_batches_follow_the_contract(shard_dirs, tiny_vlm):
    loader = build_dataloader(recipe(shard_dirs, "pairs+conv+docs+text", mixer="repeat"), "s", tiny_vlm, 8)  # each record once
    seen = 0
    for b in loader:
        rows, length = b["input_ids"].shape
        assert set(b) == {"input_ids", "labels", "attention_mask", "position_ids", "pixel_values", "image_positions"}
        assert b["image_positions"].shape == (b["pixel_values"].shape[0] * tiny_vlm.num_image_tokens,)
        assert all(b[k].shape == (rows, length) for k in ("labels", "attention_mask", "position_ids"))
        assert length <= 128
        n_img = int((b["input_ids"] == tiny_vlm.image_token_id).sum())
        assert n_img == b["pixel_values"].shape[0] * tiny_vlm.num_image_tokens
        assert b["pixel_values"].shape[1:] == (3, 16, 16)
        assert ((b["labels"] != -100) <= (b["attention_mask"] == 1)).all()
        assert (b["labels"][b["input_ids"] == tiny_vlm.image_token_id] == -100).all()
        out = tiny_vlm(**b)  # the VLM accepts it as is
        assert torch.isfinite(out.loss)
        seen += 1
    assert seen == -(-loader.records // 8)
    assert loader.records == 104
    assert loader.skipped == {"truncated_image": 1, "no_caption": 1}


def test_same_seed_same_batches_and_packing_saves_rows(shard_dirs, tiny_vlm):
    r = recipe(shard_dirs, "pairs+text")
    first = batches(build_dataloader(r, "s", tiny_vlm, 8))
    again = batches(build_dataloader(r, "s", tiny_vlm, 8))
    assert len(first) == len(again)
    assert all(torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(first, again))
    unpacked = build_dataloader(recipe(shard_dirs, "pairs+text", packing=False), "s", tiny_vlm, 8)
    plain = batches(unpacked)
    assert sum(b["input_ids"].shape[0] for b in plain) > 2 * sum(b["input_ids"].shape[0] for b in first)
    assert sum(int(b["attention_mask"].sum()) for b in plain) == sum(int(b["attention_mask"].sum()) for b in first)


def test_pairs_per_sample_joins_pairs(shard_dirs, tiny_vlm):
    loader = build_dataloader(recipe(shard_dirs, "pairs", packing=False, options={"pairs": {"pairs_per_sample": 4}}), "s", tiny_vlm, 8)
    b = next(iter(loader))
    # 8 records, 4 per joined sample -> 2 rows of 4 image runs (one fewer per bad record skipped)
    assert b["input_ids"].shape[0] == 2
    per_row = (b["input_ids"] == tiny_vlm.image_token_id).sum(1) // tiny_vlm.num_image_tokens
    assert per_row.tolist()[0] == 4 and per_row.sum() == 8 - sum(loader.skipped.values())
    assert (b["position_ids"][:, 1:] == 0).sum() == 0  # joined pairs share one attention block


def test_mid_epoch_resume_is_exact(shard_dirs, tiny_vlm):
    r = recipe(shard_dirs, "pairs+text+conv")
    full = batches(build_dataloader(r, "s", tiny_vlm, 4))
    loader = build_dataloader(r, "s", tiny_vlm, 4)
    head = batches(loader, 3)
    state = loader.state_dict()
    assert state["sample_in_epoch"] == 12
    resumed = build_dataloader(r, "s", tiny_vlm, 4)
    resumed.load_state_dict(state)
    tail = batches(resumed)
    assert len(head) + len(tail) == len(full)
    for a, b in zip(head + tail, full):
        assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["pixel_values"], b["pixel_values"])


def test_unknown_option_names_the_dataset(shard_dirs, tiny_vlm):
    with pytest.raises(ValueError, match="datasets.docs.options: unknown interleaved option"):
        build_dataloader(recipe(shard_dirs, "docs", options={"docs": {"min_sim": 0.3}}), "s", tiny_vlm, 4)


def test_long_records_are_truncated_by_the_rule(tmp_path, tiny_vlm):
    """A record longer than max_seq_len with more images than allowed: rows stay within
    max_seq_len, at most max_images_per_sample images survive, every run is whole."""
    import shards

    segments = []
    for i in range(10):
        segments += [{"image": i, "similarity": 0.5}, {"text": f"Sentence {i} " + "word " * 8}]
    doc = {"id": "long", "kind": "interleaved", "content": {"segments": segments},
           "images": [shards.png((i, i, i)) for i in range(10)]}
    dirs = {"long": shards.write(tmp_path / "long", [doc] * 4)}
    k = tiny_vlm.num_image_tokens
    for max_len, max_images in [(200, 2), (64, 6)]:
        loader = build_dataloader(recipe(dirs, "long", packing=False, max_seq_len=max_len, max_images=max_images),
                                  "s", tiny_vlm, 4)
        (b,) = batches(loader)
        assert b["input_ids"].shape[1] <= max_len
        per_row = (b["input_ids"] == tiny_vlm.image_token_id).sum(1)
        assert (per_row % k == 0).all() and (per_row // k <= max_images).all() and (per_row > 0).all()
        if max_len == 200:  # room for more: the image cap is what binds
            assert (per_row // k == max_images).all()
        assert b["pixel_values"].shape[0] == int(per_row.sum()) // k



def test_items_hold_each_kept_image_transformed(shard_dirs, tiny_vlm):
    """One image: a ``[1, 3, H, W]`` view of the transform's output; several: stacked in order;
    none: ``[0, 3, H, W]``; the collator copies them into the batch unchanged."""
    import shards
    from vlmkit.data.images import decode_image
    from vlmkit.data.schema import pack_images

    loader = build_dataloader(recipe(shard_dirs, "pairs+docs+text"), "s", tiny_vlm, 4)
    ds, t = loader.dataset, tiny_vlm.image_transform
    blobs = [shards.png((200, 10, 30), 24), shards.png((5, 90, 250), 12)]
    records = [
        (0, {"kind": "pairs", "content": {"caption": "a cat"}, "images": pack_images(blobs[:1])}),
        (1, {"kind": "interleaved", "content": {"segments": [{"image": 0}, {"text": "x"}, {"image": 1}]}, "images": pack_images(blobs)}),
        (2, {"kind": "text", "content": {"text": "words"}, "images": pack_images([])}),
    ]
    items = [ds.process(record, stream) for stream, record in records]
    expected = [torch.stack([t(decode_image(b)) for b in bs]) if bs else torch.zeros(0, 3, 16, 16) for bs in (blobs[:1], blobs, [])]
    for item, want in zip(items, expected):
        assert torch.equal(item["pixel_values"], want)
    batch = loader.collate_fn(items)
    assert torch.equal(batch["pixel_values"], torch.cat(expected))
    assert batch["input_ids"][0, : len(items[0]["input_ids"])].tolist() == items[0]["input_ids"]
