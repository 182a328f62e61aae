"""Mixers: proportions and repeats as Streaming sees them, checked by counting the samples of each
stream in a real epoch read from small MDS folders."""

from __future__ import annotations

import pytest
from shards import recipe

from vlmkit.config import parse_mixture
from vlmkit.data.loader import build_dataloader
from vlmkit.registry import registries


def epoch_counts(loader, image_token_id):
    """(rows with images = pairs, rows without = text) over one epoch; packing is off."""
    with_images = without = 0
    for b in loader:
        has = (b["input_ids"] == image_token_id).any(1)
        with_images += int(has.sum())
        without += int((~has).sum())
    return with_images + sum(loader.skipped.values()), without


@pytest.mark.parametrize("mixture,expected", [
    ({"pairs": 0.75, "text": 0.25}, (54, 18)),  # 72 records per epoch split 3:1
    ({"pairs": 0.25, "text": 0.75}, (18, 54)),
])
def test_proportional_mixer_draws_shares(shard_dirs, tiny_vlm, mixture, expected):
    loader = build_dataloader(recipe(shard_dirs, mixture, packing=False), "s", tiny_vlm, 8)
    assert epoch_counts(loader, tiny_vlm.image_token_id) == expected


def test_repeat_mixer_with_vila_grammar(shard_dirs, tiny_vlm):
    loader = build_dataloader(recipe(shard_dirs, "pairs*2+text", packing=False, mixer="repeat"), "s", tiny_vlm, 8)
    assert epoch_counts(loader, tiny_vlm.image_token_id) == (2 * 32, 40)


def test_mixers_give_streams_in_mixture_order(shard_dirs):
    r = recipe(shard_dirs, "text+pairs*3")
    mixture = parse_mixture(r.stages["s"].mixture)
    streams = registries().mixers.get("repeat")().streams(mixture, r.datasets)
    assert [s.local for s in streams] == [str(shard_dirs["text"]), str(shard_dirs["pairs"])]
    assert [s.repeat for s in streams] == [1.0, 3.0]
    streams = registries().mixers.get("proportional")().streams(mixture, r.datasets)
    assert [s.proportion for s in streams] == [0.25, 0.75]


def test_stream_location_reads_folders_in_place_and_caches_uris():
    from vlmkit.config import DatasetConfig
    from vlmkit.data.mixers.location import stream_location

    assert stream_location(DatasetConfig(kind="text", remote="/data/t")) == {"remote": None, "local": "/data/t", "split": None}
    uri = DatasetConfig(kind="text", remote="s3://b/t", local="/cache/t", split="train")
    assert stream_location(uri) == {"remote": "s3://b/t", "local": "/cache/t", "split": "train"}
    assert stream_location(DatasetConfig(kind="text", remote="gs://b/t"))["local"] is None  # Streaming picks a temp folder
