"""Named datasets: registry entries resolve to concrete shard locations; plugins can add their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlmkit import registry as registry_module
from vlmkit.config.models import DatasetConfig
from vlmkit.data.datasets import DatasetDefinition, resolve_dataset, static_dataset
from vlmkit.data.embedded import DATASETS, kind_of

EMBEDDED = [f"embedded_{name}" for name in DATASETS]


def test_every_embedded_set_is_registered():
    assert set(EMBEDDED) <= set(registry_module.registries().datasets.names())


@pytest.mark.parametrize("name", EMBEDDED)
def test_resolve_without_prepare_only_locates(name, cache):
    cfg = DatasetConfig(name=name, options={"scale": "tiny", "seed": 42})
    resolved = resolve_dataset(cfg, prepare=False)
    assert resolved.kind == kind_of(name[len("embedded_"):])
    assert resolved.remote is None and Path(resolved.local).parent.parent == cache / "embedded"
    assert not Path(resolved.local).exists()
    assert resolved.options == {}  # scale and seed were the definition's own options


def test_resolve_prepares_and_keeps_tokenization_options(cache):
    cfg = DatasetConfig(name="embedded_conversations", options={"scale": "tiny", "turns": 2, "max_images": 1})
    resolved = resolve_dataset(cfg)
    assert resolved.kind == "conversations" and resolved.name == "embedded_conversations"
    assert (Path(resolved.local) / "index.json").is_file() and resolved.local.endswith("-turns2")
    assert resolved.options == {"max_images": 1}
    assert resolved.weight == 1.0 and resolve_dataset(DatasetConfig(name="embedded_text", weight=3), prepare=False).weight == 3


def test_bad_options_and_kind_conflicts_are_one_line_errors(cache):
    with pytest.raises(ValueError, match="unknown scale 'big'"):
        resolve_dataset(DatasetConfig(name="embedded_pairs", options={"scale": "big"}), prepare=False)
    with pytest.raises(ValueError, match="turns must be a positive integer"):
        resolve_dataset(DatasetConfig(name="embedded_conversations", options={"turns": 0}), prepare=False)
    with pytest.raises(ValueError, match="holds text samples, not pairs"):
        resolve_dataset(DatasetConfig(name="embedded_text", kind="pairs"), prepare=False)
    with pytest.raises(LookupError, match="did you mean 'embedded_pairs'"):
        resolve_dataset(DatasetConfig(name="embeded_pairs"), prepare=False)


def test_unnamed_configs_pass_through():
    cfg = DatasetConfig(kind="text", remote="s3://bucket/flan")
    assert resolve_dataset(cfg) is cfg


class _Plugin:
    """A third-party plugin shipping two dataset definitions, one static and one with options."""

    __name__ = "acme_data"

    @staticmethod
    @registry_module.hookimpl
    def vlmkit_register(registry):
        registry.datasets.register("acme_coyo", static_dataset("pairs", remote="s3://acme/coyo", weight=2.0, options={"pairs_per_sample": 4}))

        def acme_mmc4(subset: str = "core") -> DatasetDefinition:
            return DatasetDefinition("interleaved", remote=f"s3://acme/mmc4-{subset}", split="train")

        registry.datasets.register("acme_mmc4", acme_mmc4)


@pytest.fixture
def plugin_registry():
    yield registry_module.reset(extra=[_Plugin])
    registry_module.reset()


def test_plugin_datasets_resolve(plugin_registry):
    coyo = resolve_dataset(DatasetConfig(name="acme_coyo", options={"min_similarity": 0.3}))
    assert (coyo.kind, coyo.remote, coyo.weight) == ("pairs", "s3://acme/coyo", 2.0)
    assert coyo.options == {"pairs_per_sample": 4, "min_similarity": 0.3}
    mmc4 = resolve_dataset(DatasetConfig(name="acme_mmc4", local="/tmp/cache", options={"subset": "ff"}))
    assert (mmc4.kind, mmc4.remote, mmc4.local, mmc4.split) == ("interleaved", "s3://acme/mmc4-ff", "/tmp/cache", "train")


def test_static_dataset_is_checked_when_registered():
    with pytest.raises(ValueError):
        static_dataset("pictures", remote="s3://x")
