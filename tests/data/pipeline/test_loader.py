"""The loader end to end: MDS shards -> mixer -> StreamingDataset -> tokenize -> pack -> batches
per the batch contract; bad records skipped and counted; deterministic; exact mid-epoch resume."""

from __future__ import annotations

import pytest
import torch

import shards
from vlmkit.config import validate_recipe
from vlmkit.data.loader import build_dataloader
from vlmkit.model.vlm import build_vlm

MODEL = {"vision_encoder": {"name": "tiny_vit", "image_size": 16, "patch_size": 8},
         "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}, "chat_template": "chatml"}


@pytest.fixture(scope="module")
def model():
    return build_vlm(MODEL)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    bad = [{"id": "bad0", "kind": "pairs", "content": {"caption": "broken"}, "images": [b"\x89PNG\r\n\x1a\nxx"]},
           {"id": "bad1", "kind": "pairs", "content": {"caption": ""}, "images": [shards.png((1, 2, 3))]}]
    return {
        "pairs": shards.write(root / "pairs", shards.pairs(30) + bad),
        "conv": shards.write(root / "conv", shards.conversations(20)),
        "docs": shards.write(root / "docs", shards.interleaved(12)),
        "text": shards.write(root / "text", shards.texts(40)),
    }


def recipe(data, mixture, *, packing=True, max_seq_len=128, options=None, mixer="proportional", local=None):
    kinds = {"pairs": "pairs", "conv": "conversations", "docs": "interleaved", "text": "text"}
    datasets = {n: {"kind": kinds[n], "remote": str(data[n]), "options": (options or {}).get(n, {})} for n in kinds}
    if local:
        datasets = {n: {**d, "remote": None, "local": str(local[n])} for n, d in datasets.items()}
    return validate_recipe({
        "name": "t", "model": MODEL, "datasets": datasets,
        "data": {"max_seq_len": max_seq_len, "packing": packing, "shuffle_seed": 3},
        "stages": {"s": {"trainable": ["projector"], "mixture": mixture, "mixer": mixer,
                         "optimizer": {"lr": 1e-3}, "global_batch_size": 8, "duration": "1ep"}},
    })


def batches(loader, n=None):
    out = []
    for i, b in enumerate(loader):
        out.append(b)
        if n is not None and i + 1 == n:
            break
    return out


def test_batches_follow_the_contract(data, model):
    loader = build_dataloader(recipe(data, "pairs+conv+docs+text", mixer="repeat"), "s", model, 8)  # each record once
    seen = 0
    for b in loader:
        rows, length = b["input_ids"].shape
        assert set(b) == {"input_ids", "labels", "attention_mask", "position_ids", "pixel_values"}
        assert all(b[k].shape == (rows, length) for k in ("labels", "attention_mask", "position_ids"))
        assert length <= 128
        n_img = int((b["input_ids"] == model.image_token_id).sum())
        assert n_img == b["pixel_values"].shape[0] * model.num_image_tokens
        assert b["pixel_values"].shape[1:] == (3, 16, 16)
        assert ((b["labels"] != -100) <= (b["attention_mask"] == 1)).all()
        assert (b["labels"][b["input_ids"] == model.image_token_id] == -100).all()
        out = model(**b)  # the VLM accepts it as is
        assert torch.isfinite(out.loss)
        seen += 1
    assert seen == -(-loader.records // 8)
    assert loader.records == 104
    assert loader.skipped == {"truncated_image": 1, "bad_pairs_record": 1}


def test_same_seed_same_batches_and_packing_saves_rows(data, model):
    r = recipe(data, "pairs+text")
    first = batches(build_dataloader(r, "s", model, 8))
    again = batches(build_dataloader(r, "s", model, 8))
    assert len(first) == len(again)
    assert all(torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(first, again))
    unpacked = build_dataloader(recipe(data, "pairs+text", packing=False), "s", model, 8)
    plain = batches(unpacked)
    assert sum(b["input_ids"].shape[0] for b in plain) > 2 * sum(b["input_ids"].shape[0] for b in first)
    assert sum(int(b["attention_mask"].sum()) for b in plain) == sum(int(b["attention_mask"].sum()) for b in first)


def test_pairs_per_sample_joins_pairs(data, model):
    loader = build_dataloader(recipe(data, "pairs", packing=False, options={"pairs": {"pairs_per_sample": 4}}), "s", model, 8)
    b = next(iter(loader))
    # 8 records, 4 per joined sample -> 2 rows of 4 image runs (one fewer per bad record skipped)
    assert b["input_ids"].shape[0] == 2
    per_row = (b["input_ids"] == model.image_token_id).sum(1) // model.num_image_tokens
    assert per_row.tolist()[0] == 4 and per_row.sum() == 8 - sum(loader.skipped.values())
    assert (b["position_ids"][:, 1:] == 0).sum() == 0  # joined pairs share one attention block


def test_mid_epoch_resume_is_exact(data, model):
    r = recipe(data, "pairs+text+conv")
    full = batches(build_dataloader(r, "s", model, 4))
    loader = build_dataloader(r, "s", model, 4)
    head = batches(loader, 3)
    state = loader.state_dict()
    assert state["sample_in_epoch"] == 12
    resumed = build_dataloader(r, "s", model, 4)
    resumed.load_state_dict(state)
    tail = batches(resumed)
    assert len(head) + len(tail) == len(full)
    for a, b in zip(head + tail, full):
        assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["pixel_values"], b["pixel_values"])


def test_unknown_option_names_the_dataset(data, model):
    with pytest.raises(ValueError, match="datasets.docs.options: unknown interleaved option"):
        build_dataloader(recipe(data, "docs", options={"docs": {"min_sim": 0.3}}), "s", model, 4)
