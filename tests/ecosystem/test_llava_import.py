"""Importing llava-hf folders: build a tiny VLM, export it, import it back with
``vlmkit.from_pretrained``; the imported model gives plain transformers' logits and greedy replies.
Parts without a vlmkit equivalent are refused by name."""

from __future__ import annotations

import json

import pytest
import torch

import vlmkit
from tiny_hf import hf_vlm
from vlmkit.export.llava_hf import export_llava_hf
from vlmkit.testing import random_images

QUESTION = "<image>\nWhat shape is this?"
LAYOUTS = [
    ("clip", {}, None),  # CLS dropped, 2-layer GELU mlp
    ("clip", {"select_feature": "cls_patch"}, {"name": "linear"}),  # strategy full, linear projector
    ("siglip", {"resize": "squash"}, None),
]


def exported(tmp_path, tower="clip", projector=None, **options):
    model, config = hf_vlm(tmp_path, tower, projector, **options)
    export_llava_hf(model, config, tmp_path / "llava")
    return tmp_path / "llava"


@pytest.mark.parametrize(("tower", "options", "projector"), LAYOUTS)
def test_imported_model_gives_transformers_logits_and_replies(tmp_path, tower, options, projector):
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    from vlmkit.data.tokenize import encode_prompt
    from vlmkit.eval.generate import GenerationConfig, generate

    folder = exported(tmp_path, tower, projector, **options)
    ours = vlmkit.from_pretrained(folder)
    assert type(ours).__name__ == "VisionLanguageModel" and ours.chat_template == "tokenizer"
    llava = LlavaForConditionalGeneration.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    image = random_images(1, seed=11, sizes=((32, 24),))[0]  # not square: the resize mode matters
    text = processor.apply_chat_template([{"role": "user", "content": QUESTION}], add_generation_prompt=True, tokenize=False)
    inputs = processor(images=image, text=text, return_tensors="pt")
    torch.testing.assert_close(ours.image_transform(image), inputs["pixel_values"][0], atol=2.0 / 255 / 0.26, rtol=0)
    with torch.no_grad():
        theirs = llava(**inputs).logits
        mine = ours(inputs["input_ids"], inputs["pixel_values"], attention_mask=inputs["attention_mask"]).logits
    torch.testing.assert_close(mine, theirs, atol=1e-4, rtol=1e-4)

    prompt = encode_prompt(ours, [{"role": "user", "content": QUESTION}], [image])
    assert prompt == inputs["input_ids"][0].tolist()  # the folder's chat template and <image> expansion
    (reply,) = generate(ours, [prompt], [[inputs["pixel_values"][0]]], GenerationConfig(max_new_tokens=8))
    new = llava.generate(**inputs, max_new_tokens=8, do_sample=False)[0, inputs["input_ids"].shape[1]:].tolist()
    eos = ours.tokenizer.eos_token_id
    assert len(reply.token_ids) >= 3 and reply.token_ids == (new[: new.index(eos)] if eos in new else new)


def test_reimported_parts_are_the_exported_weights(tmp_path):
    model, config = hf_vlm(tmp_path, "clip", {"name": "linear"})
    export_llava_hf(model, config, tmp_path / "llava")
    back = vlmkit.from_pretrained(tmp_path / "llava")
    assert back.projector.depth == 1  # linear_2 (the identity) folded away
    for part in ("vision_encoder", "projector", "llm"):
        ours, theirs = getattr(model, part).state_dict(), getattr(back, part).state_dict()
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), part


def edit_config(folder, **changes):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    for dotted, value in changes.items():
        *head, last = dotted.split("__")
        target = config
        for key in head:
            target = target[key]
        target[last] = value
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"projector_hidden_act": "silu"}, "projector activation 'silu' has no vlmkit equivalent"),
        ({"vision_feature_layer": [-2, -1]}, "vision tower: features from several layers"),
        ({"vision_config__model_type": "siglip_vision_model"}, "strategy 'default' drops the first patch token"),
    ],
)
def test_parts_without_a_vlmkit_equivalent_are_named(tmp_path, changes, message):
    folder = exported(tmp_path)
    edit_config(folder, **changes)
    with pytest.raises(ValueError, match="cannot import as vlmkit: .*" + message.replace("(", r"\(").replace("[", r"\[")):
        vlmkit.from_pretrained(folder)


def test_a_center_cropping_processor_needs_an_explicit_resize(tmp_path):
    from vlmkit.config import ModelConfig
    from vlmkit.model.vlm import build_vlm

    folder = exported(tmp_path)
    path = folder / "preprocessor_config.json"
    proc = json.loads(path.read_text())
    path.write_text(json.dumps({**proc, "do_pad": False, "do_center_crop": True, "size": {"shortest_edge": 32},
                                "image_processor_type": "CLIPImageProcessor"}))
    with pytest.raises(ValueError, match="CLIPImageProcessor.*center-crops.*resize: pad or squash"):
        vlmkit.from_pretrained(folder)
    model = build_vlm(ModelConfig.model_validate({"init_from": str(folder), "vision_encoder": {"resize": "pad"}}))
    assert model.image_transform.resize == "pad"


def test_other_folders_are_refused_with_what_vlmkit_reads(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="'bert' is neither a vlmkit export nor a llava-hf folder"):
        vlmkit.from_pretrained(tmp_path)


def test_init_from_fills_each_part_and_keeps_given_options(tmp_path):
    from vlmkit.config import ModelConfig

    config = ModelConfig.model_validate({"init_from": "/x", "llm": {"torch_dtype": "bfloat16"}, "projector": {"name": "mlp"}})
    assert config.vision_encoder.name == "llava_hf" and config.vision_encoder.options() == {"pretrained": "/x"}
    assert config.llm.name == "llava_hf" and config.llm.options() == {"pretrained": "/x", "torch_dtype": "bfloat16"}
    assert config.projector.name == "mlp" and config.projector.options() == {}


def test_a_recipe_starts_from_a_llava_folder_and_trains_on(tmp_path):
    """``model: {init_from: PATH}``: stage 1 starts from the folder's weights, stage 2 from stage 1's;
    the result exports back to llava-hf."""
    import yaml

    from vlmkit.cli import main
    from vlmkit.config import load_recipe
    from vlmkit.storage.weights import read_state_dict

    folder = exported(tmp_path)
    start = vlmkit.from_pretrained(folder)
    tiny = yaml.safe_load(open("recipes/tiny.yaml"))
    short = {"global_batch_size": 2, "duration": "2ba", "scheduler": {"warmup": "0ba"}}
    recipe = {
        "name": "from_llava",
        "model": {"init_from": str(folder)},
        "datasets": {"pairs": tiny["datasets"]["pairs"], "conversations": tiny["datasets"]["conversations"]},
        "data": {"max_seq_len": 128},
        "stages": {"align": {**tiny["stages"]["align"], **short}, "sft": {**tiny["stages"]["sft"], **short, "mixture": {"conversations": 1.0}}},
        "trainer": {**tiny["trainer"], "run_dir": str(tmp_path / "run"), "progress_bar": False},
    }
    path = tmp_path / "from_llava.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["train", str(path)]) == 0
    align = read_state_dict(tmp_path / "run" / "align" / "model.safetensors")
    sft = read_state_dict(tmp_path / "run" / "sft" / "model.safetensors")
    llm_key = next(k for k in sft if k.startswith("llm.") and "layers.0.self_attn.q_proj" in k)
    # align trained only the projector, from the folder's weights; sft moved the LLM on from there
    assert torch.equal(align[llm_key], start.state_dict()[llm_key])
    assert not torch.equal(align["projector.net.0.weight"], start.projector.net[0].weight)
    assert not torch.equal(sft[llm_key], align[llm_key])
    assert load_recipe(path).model.projector.name == "llava_hf"
    assert main(["export", str(path), str(tmp_path / "again"), "--format", "llava-hf"]) == 0
    back = vlmkit.from_pretrained(tmp_path / "again")
    assert torch.equal(back.state_dict()[llm_key], sft[llm_key])


def test_vlmkit_eval_loads_a_llava_folder(tmp_path):
    from vlmkit.eval.loading import load_model

    folder = exported(tmp_path)
    loaded = load_model(folder, device="cpu")
    assert loaded.chat_template == "tokenizer" and loaded.model.num_image_tokens == 16
