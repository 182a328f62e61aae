"""A sample kind a third party registers (one class in this module, one register line) flows
through everything that used to switch on the four built-in kind names: recipe validation,
tokenization, shard writing, the training loader, the training plan and preflight."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import encoder
from shards import MODEL, png
from vlmkit import hookimpl
from vlmkit import registry as reg
from vlmkit.config import RecipeError, validate_recipe
from vlmkit.data.kinds import SampleKind
from vlmkit.data.schema import IMAGE_MARKER
from vlmkit.data.tokenize import Rendered, SampleError, image_runs
from vlmkit.model.splice import IGNORE_INDEX

KIND = "test_album"


# --8<-- [start:album]
class Album(SampleKind):
    """Captioned pictures, ``{"captions": [str, ...]}`` with one image each: ``<bos>(<image>\\ncaption\\n)*<eos>``,
    loss on the captions; plans count two pictures per album."""

    def render(self, content, num_images, ctx, opts) -> Rendered:
        captions = content.get("captions")
        if not isinstance(captions, list) or not captions or len(captions) != num_images:
            raise SampleError("bad_album", f"an album needs one caption per image, got {captions!r} for {num_images} image(s)")
        text, targets = ctx.bos, []
        for caption in captions:
            text += IMAGE_MARKER + "\n"
            targets.append((len(text), len(text) + len(caption) + 1))
            text += caption + "\n"
        return Rendered(text + ctx.eos, tuple(targets), tuple(range(num_images)))

    def images_per_record(self, opts, cap: int) -> float:
        return float(min(2, cap))
# --8<-- [end:album]


@hookimpl
def vlmkit_register(registry):
    from vlmkit.data.datasets import static_dataset

    registry.sample_kinds.register(KIND, Album, description="Captioned pictures (test plugin).")
    # a dataset of the new kind, built while the registries load (nothing can be looked up yet)
    registry.datasets.register("test_albums", static_dataset(KIND, local="/nonexistent/albums"))


@pytest.fixture(scope="module")
def with_album():
    regs = reg.reset(extra=[sys.modules[__name__]])
    yield regs
    reg.reset()


@pytest.fixture(scope="module")
def album_shards(tmp_path_factory, with_album):
    from vlmkit.data.convert import ShardWriter

    folder = tmp_path_factory.mktemp("album") / "shards"
    writer = ShardWriter(str(folder))
    for i in range(6):
        writer.write(f"a{i}", KIND, {"captions": [f"red {i}", f"blue {i}"]}, [png((i, 0, 0)), png((0, 0, i))])
    writer.write("bad", KIND, {"captions": ["one caption"]}, [png((1, 1, 1)), png((2, 2, 2))])
    writer.finish()
    return folder


def album_recipe(folder, max_images: int = 6) -> dict:
    """A one-stage recipe (training the projector) over one dataset ``a`` of albums in ``folder``."""
    return {"name": "t", "model": MODEL, "datasets": {"a": {"kind": KIND, "local": str(folder)}},
            "data": {"max_seq_len": 128, "max_images_per_sample": max_images},
            "stages": {"s": {"trainable": ["projector"], "mixture": "a", "optimizer": {"lr": 1e-3},
                             "global_batch_size": 8, "duration": "1ba"}}}


def test_the_registered_kind_validates_and_an_unregistered_one_is_refused(tmp_path, with_album):
    data = album_recipe(tmp_path)
    assert validate_recipe(data).datasets["a"].kind == KIND
    reg.reset()
    try:
        with pytest.raises(RecipeError, match=f"datasets.a.kind: unknown sample kind '{KIND}'"):
            validate_recipe(data)
    finally:
        reg.reset(extra=[sys.modules[__name__]])


def test_a_lookup_inside_a_hook_is_refused_and_a_named_dataset_of_the_kind_resolves(with_album):
    from vlmkit.config import DatasetConfig
    from vlmkit.data.datasets import resolve_dataset

    assert resolve_dataset(DatasetConfig(name="test_albums"), prepare=False).kind == KIND

    @hookimpl
    def looks_up(registry):
        reg.registries()

    plugin = type("lookup_plugin", (), {"vlmkit_register": staticmethod(looks_up)})
    try:
        with pytest.warns(reg.PluginWarning, match="still loading: a vlmkit_register hook cannot look components up"):
            reg.reset(extra=[plugin])
    finally:
        reg.reset(extra=[sys.modules[__name__]])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="<"), max_size=12), min_size=1, max_size=4))
def test_encode_puts_one_run_per_picture_and_loss_on_the_captions(tiny_tok, with_album, captions):
    enc = encoder(tiny_tok)
    images = [f"img{i}" for i in range(len(captions))]
    sample = enc.encode(KIND, {"captions": captions}, images)
    assert sample["images"] == images
    assert len(image_runs(sample["input_ids"], enc.image_token_id, enc.num_image_tokens)) == len(captions)
    learned = [t for t, lab in zip(sample["input_ids"], sample["labels"]) if lab != IGNORE_INDEX]
    assert tiny_tok.decode(learned) == "".join(c + "\n" for c in captions)


def test_encode_applies_the_image_cap_and_refuses_options_the_kind_lacks(tiny_tok, with_album):
    capped = encoder(tiny_tok, max_images=1).encode(KIND, {"captions": ["a", "b"]}, ["x", "y"])
    assert capped["images"] == ["x"]
    with pytest.raises(ValueError, match=f"unknown {KIND} option.*allowed: none"):
        encoder(tiny_tok).encode(KIND, {"captions": ["a"]}, ["x"], {"pairs_per_sample": 2})


def test_the_loader_trains_on_the_new_kind_and_counts_its_bad_records(album_shards, tiny_vlm):
    from vlmkit.data.loader import build_dataloader

    loader = build_dataloader(validate_recipe(album_recipe(album_shards)), "s", tiny_vlm, 8)
    pictures = sum(b["pixel_values"].shape[0] for b in loader)
    assert pictures == 12
    assert loader.records == 7 and loader.skipped == {"bad_album": 1}


def test_plan_and_preflight_ask_the_kind(album_shards, with_album):
    from vlmkit.preflight import carries_images, image_stages, preflight
    from vlmkit.train.plan import images_per_record

    r = validate_recipe(album_recipe(album_shards))
    assert images_per_record(r, "s") == 2
    assert images_per_record(validate_recipe(album_recipe(album_shards, max_images=1)), "s") == 1
    assert carries_images(with_album, KIND) is True
    assert image_stages(r, {"a": KIND}, with_album) == {"s"}
    assert preflight(r) is r  # the projector stage has image data: nothing to report


def test_converting_a_kind_without_a_converter_says_so(tmp_path, with_album):
    from vlmkit.data.convert import convert

    (tmp_path / "in.jsonl").write_text('{"captions": ["a"]}\n')
    with pytest.raises(ValueError, match=f"sample kind '{KIND}' has no converter"):
        convert(KIND, tmp_path / "in.jsonl", tmp_path / "out")


@pytest.mark.parametrize("kind,refused", [
    ("text", ["cannot hold a text sample", "every dataset is text-only"]),
    (KIND, ["cannot hold one image"]),  # image data: judged against one image's tokens instead
])
def test_preflight_asks_the_kind_whether_its_samples_carry_images(tmp_path, with_album, kind, refused):
    from vlmkit.preflight import preflight

    data = album_recipe(tmp_path)
    data["datasets"]["a"]["kind"] = kind
    data["data"]["max_seq_len"] = 4
    with pytest.raises(RecipeError) as err:
        preflight(validate_recipe(data))
    lines = str(err.value).splitlines()
    assert all(any(r in line for line in lines) for r in refused), lines
    assert len([line for line in lines if "stages.s" in line or "max_seq_len" in line]) == len(refused), lines
