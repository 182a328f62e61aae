"""Scales: an arm written at VILA size, moved to a small scale, keeps exactly what the ablation changes."""

import pytest
import yaml

from vlmkit.config import RecipeError
from vlmkit.experiments.scale import Scale, apply_scale, arm_parts, load_scale

BASE = {
    "model": {
        "vision_encoder": {"name": "clip", "pretrained": "openai/clip-vit-large-patch14-336", "select_layer": -2},
        "projector": {"name": "linear"},
        "llm": {"name": "hf_causal_lm", "pretrained": "meta-llama/Llama-2-7b-hf"},
    },
    "datasets": {"coyo": {"kind": "pairs", "remote": "/data/coyo"}},
    "stages": {"pretrain": {"trainable": ["projector", "llm"], "mixture": "coyo", "global_batch_size": 1024,
                            "duration": "1ep", "optimizer": {"lr": 5e-5}}},
}
SCALE = Scale(
    name="small",
    replace={"model.vision_encoder": {"name": "tiny_vit", "image_size": 32}, "datasets.coyo": {"name": "tiny_pairs"}},
    merge={"stages": {"pretrain": {"global_batch_size": 4, "duration": "3ba"}}},
    translate={"model.vision_encoder.image_size": {224: 24, 336: 32},
               "model.vision_encoder.pretrained": {"openai/clip-vit-large-patch14": None}},
)


def write_arm(tmp_path, delta, name="arm.yaml"):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / name).write_text(yaml.safe_dump({"base": "base.yaml", "name": "abl-x", **delta}))
    return tmp_path / name


def test_replace_swaps_whole_components_so_no_option_leaks(tmp_path):
    base, delta, meta = arm_parts(write_arm(tmp_path, {}))
    data = apply_scale(base, delta, SCALE)
    assert data["model"]["vision_encoder"] == {"name": "tiny_vit", "image_size": 32}
    assert data["datasets"]["coyo"] == {"name": "tiny_pairs"}
    assert data["stages"]["pretrain"]["global_batch_size"] == 4
    assert data["stages"]["pretrain"]["optimizer"] == {"lr": 5e-5}  # untouched by the scale
    assert meta == {"name": "abl-x"}


def test_the_arm_change_survives_the_scale(tmp_path):
    arm = write_arm(tmp_path, {"stages": {"pretrain": {"trainable": ["projector"]}}, "model": {"projector": {"name": "transformer"}}})
    data = apply_scale(*arm_parts(arm)[:2], SCALE)
    assert data["stages"]["pretrain"]["trainable"] == ["projector"]
    assert data["model"]["projector"] == {"name": "transformer"}
    assert data["stages"]["pretrain"]["global_batch_size"] == 4


def test_translate_maps_values_and_drops_keys_meaningless_at_the_scale(tmp_path):
    arm = write_arm(tmp_path, {"model": {"vision_encoder": {"pretrained": "openai/clip-vit-large-patch14", "image_size": 224}}})
    data = apply_scale(*arm_parts(arm)[:2], SCALE)
    assert data["model"]["vision_encoder"] == {"name": "tiny_vit", "image_size": 24}


def test_a_value_the_scale_cannot_map_is_named(tmp_path):
    arm = write_arm(tmp_path, {"model": {"vision_encoder": {"image_size": 512}}})
    with pytest.raises(RecipeError, match=r"model.vision_encoder.image_size: the arm sets 512.*'small'.*224, 336"):
        apply_scale(*arm_parts(arm)[:2], SCALE)


def test_without_a_scale_the_arm_is_its_base_plus_its_change(tmp_path):
    arm = write_arm(tmp_path, {"stages": {"pretrain": {"mixture": "coyo"}}, "model": {"vision_encoder": {"image_size": 224}}})
    data = apply_scale(*arm_parts(arm)[:2], None)
    assert data["model"]["vision_encoder"]["pretrained"] == "openai/clip-vit-large-patch14-336"
    assert data["model"]["vision_encoder"]["image_size"] == 224


def test_an_arm_must_have_a_base(tmp_path):
    (tmp_path / "arm.yaml").write_text("name: x\nmodel: {}\n")
    with pytest.raises(RecipeError, match="needs 'base: <recipe>'"):
        arm_parts(tmp_path / "arm.yaml")


def test_scale_files_reject_unknown_keys(tmp_path):
    (tmp_path / "s.yaml").write_text("replaec: {}\n")
    with pytest.raises(RecipeError, match="replaec: unknown key; did you mean 'replace'"):
        load_scale(tmp_path / "s.yaml")
