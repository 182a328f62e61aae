"""``llava-hf`` export: plain transformers (with vlmkit unimportable) loads the checkpoint and its
processor and generates the same tokens as vlmkit; models Llava cannot express are refused."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from tiny_hf import hf_vlm
from vlmkit.export.llava_hf import export_llava_hf
from vlmkit.testing import random_images

QUESTION = "<image>\nWhat shape is this?"

HF_ONLY = textwrap.dedent(
    """
    import json, sys

    class NoVlmkit:  # prove the checkpoint needs nothing from vlmkit
        def find_spec(self, name, path=None, target=None):
            if name == "vlmkit" or name.startswith("vlmkit."):
                raise ImportError("vlmkit is not available here")

    sys.meta_path.insert(0, NoVlmkit())
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    out, image_path, question = sys.argv[1:4]
    model = LlavaForConditionalGeneration.from_pretrained(out).eval()
    processor = AutoProcessor.from_pretrained(out)
    messages = [{"role": "user", "content": question}]
    text = processor.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = processor(images=Image.open(image_path), text=text, return_tensors="pt")
    ids = model.generate(**inputs, max_new_tokens=10, do_sample=False)
    print(json.dumps({"prompt": inputs["input_ids"][0].tolist(), "new": ids[0, inputs["input_ids"].shape[1]:].tolist()}))
    """
)


def vlmkit_reply(model, image) -> tuple[list[int], list[int]]:
    from vlmkit.data.tokenize import encode_prompt
    from vlmkit.eval.generate import GenerationConfig, generate

    prompt = encode_prompt(model, [{"role": "user", "content": QUESTION}], [image])
    pixels = model.image_transform(image)
    (reply,) = generate(model, [prompt], [[pixels]], GenerationConfig(max_new_tokens=10))
    return prompt, reply.token_ids


@pytest.mark.slow  # a fresh interpreter importing transformers: ~30 s on 2 busy cores
def test_plain_transformers_generates_what_vlmkit_generates(tmp_path):
    model, config = hf_vlm(tmp_path)
    export_llava_hf(model, config, tmp_path / "llava")
    image = random_images(1, seed=7, sizes=((32, 32),))[0]
    image.save(tmp_path / "image.png")
    proc = subprocess.run(
        [sys.executable, "-c", HF_ONLY, str(tmp_path / "llava"), str(tmp_path / "image.png"), QUESTION],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    hf = json.loads(proc.stdout.strip().splitlines()[-1])
    prompt, reply = vlmkit_reply(model, image)
    assert hf["prompt"] == prompt  # the processor expands <image> exactly as vlmkit pre-expands it
    eos = model.tokenizer.eos_token_id
    hf_reply = hf["new"][: hf["new"].index(eos)] if eos in hf["new"] else hf["new"]
    assert len(reply) >= 3 and hf_reply == reply


@pytest.mark.parametrize(
    ("tower", "options", "strategy", "projector", "act"),
    [
        ("clip", {}, "default", None, "gelu"),
        ("clip", {"select_feature": "cls_patch"}, "full", None, "gelu"),
        ("siglip", {"resize": "squash"}, "full", None, "gelu"),
        ("clip", {}, "default", {"name": "linear"}, "linear"),  # VILA-7B/13B's projector
    ],
)
def test_logits_match_for_each_tower_layout(tmp_path, tower, options, strategy, projector, act):
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    model, config = hf_vlm(tmp_path, tower, projector, **options)
    export_llava_hf(model, config, tmp_path / "llava")
    assert not [p for p in (tmp_path / "llava").iterdir() if p.suffix in (".bin", ".pt", ".pth")]
    llava = LlavaForConditionalGeneration.from_pretrained(tmp_path / "llava").eval()
    processor = AutoProcessor.from_pretrained(tmp_path / "llava")
    assert llava.config.vision_feature_select_strategy == strategy
    assert llava.config.projector_hidden_act == act
    image = random_images(1, seed=3, sizes=((32, 32),))[0]
    inputs = processor(images=image, text=QUESTION, return_tensors="pt")
    with torch.no_grad():
        theirs = llava(**inputs).logits
        ours = model(inputs["input_ids"], model.image_transform(image)[None], attention_mask=inputs["attention_mask"]).logits
    assert inputs["input_ids"].eq(model.image_token_id).sum() == model.num_image_tokens
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)


def test_non_square_images_are_padded_like_vlmkit(tmp_path):
    from transformers import AutoProcessor

    model, config = hf_vlm(tmp_path)
    export_llava_hf(model, config, tmp_path / "llava")
    processor = AutoProcessor.from_pretrained(tmp_path / "llava")
    image = random_images(1, seed=5, sizes=((40, 21),))[0]
    theirs = processor(images=image, text=QUESTION, return_tensors="pt")["pixel_values"][0]
    ours = model.image_transform(image)
    # The image rows match exactly; the padding is int(mean*255) there and round(mean*255) here, so
    # padded rows (and the resampled edge next to them) may differ by a grey level or two.
    diff = (theirs - ours).abs()
    assert diff[:, 10:20].max() < 1e-5
    std = torch.tensor(model.image_transform.std).min()
    assert diff.max() <= (2.0 / 255) / std + 1e-5


def test_models_llava_cannot_express_are_refused_with_reasons(tmp_path):
    from vlmkit.config import ModelConfig
    from vlmkit.model.vlm import build_vlm

    spec = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp", "depth": 3}, "llm": {"name": "tiny_llama"}}
    model = build_vlm(spec)
    with pytest.raises(ValueError) as err:
        export_llava_hf(model, ModelConfig.model_validate(spec), tmp_path / "out")
    message = str(err.value)
    assert "vision encoder is TinyViT, not a CLIP or SigLIP tower" in message
    assert "projector is MLPProjector of depth 3" in message
    assert "--format vlmkit" in message and not (tmp_path / "out").exists()
    # tiny_llama is a Hugging Face Llama: no complaint about the LLM.
    assert "the LLM" not in message


def test_towers_at_a_non_native_resolution_are_refused(tmp_path):
    model, config = hf_vlm(tmp_path, "clip", image_size=48)
    with pytest.raises(ValueError, match="runs at 48px, not its native 32px"):
        export_llava_hf(model, config, tmp_path / "out")


def vila_recipe_model(recipe: str, tmp_path):
    """The model of ``recipes/RECIPE`` with its pretrained parts swapped for tiny local folders."""
    from tiny_hf import save_clip, save_llama, save_siglip

    from vlmkit.config import load_recipe
    from vlmkit.model.vlm import build_vlm

    tower = load_recipe(f"recipes/{recipe}").model.vision_encoder.name
    tower_dir = (save_clip if tower == "clip" else save_siglip)(tmp_path / tower)
    overrides = [f"model.vision_encoder.pretrained={tower_dir}", f"model.llm.pretrained={save_llama(tmp_path / 'llm')}",
                 "model.llm.torch_dtype=float32", "model.vision_encoder.torch_dtype=float32"]  # exact comparisons in fp32
    recipe_model = load_recipe(f"recipes/{recipe}", overrides).model
    return build_vlm(recipe_model).eval(), recipe_model


@pytest.mark.parametrize("recipe", ["vila7b.yaml", "vila13b.yaml"])
def test_vila_recipes_export_with_their_chat_template(tmp_path, recipe):
    """VILA-7B/13B (linear projector, vicuna_v1): the folder's processor renders vlmkit's prompt
    ids, and Llava's logits on them are vlmkit's."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    from vlmkit.data.tokenize import encode_prompt

    model, recipe_model = vila_recipe_model(recipe, tmp_path)
    assert recipe_model.projector.name == "linear" and recipe_model.chat_template == "vicuna_v1"
    export_llava_hf(model, recipe_model, tmp_path / "llava")
    processor = AutoProcessor.from_pretrained(tmp_path / "llava")
    llava = LlavaForConditionalGeneration.from_pretrained(tmp_path / "llava").eval()
    image = random_images(1, seed=2, sizes=((32, 32),))[0]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What shape is this?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(images=image, text=text, return_tensors="pt")
    assert text.endswith("USER: <image>\nWhat shape is this? ASSISTANT:")  # vicuna_v1, not the tokenizer's ChatML
    ours_ids = encode_prompt(model, [{"role": "user", "content": QUESTION}], [image], chat_template="vicuna_v1")
    assert inputs["input_ids"][0].tolist() == ours_ids
    with torch.no_grad():
        theirs = llava(input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"]).logits
        ours = model(inputs["input_ids"], model.image_transform(image)[None]).logits
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("recipe", ["vila1.5-3b.yaml", "vila1.5-8b.yaml"])
def test_vila15_token_merging_projector_is_refused_with_the_reason(tmp_path, recipe):
    model, recipe_model = vila_recipe_model(recipe, tmp_path)
    with pytest.raises(ValueError) as err:
        export_llava_hf(model, recipe_model, tmp_path / "out")
    assert "the projector is DownsampleProjector, not the 2-layer GELU 'mlp' or the 'linear' one" in str(err.value)
    assert "vision encoder" not in str(err.value) and "LLM" not in str(err.value)
