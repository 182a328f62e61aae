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
    ("tower", "options", "strategy"),
    [("clip", {}, "default"), ("clip", {"select_feature": "cls_patch"}, "full"), ("siglip", {"resize": "squash"}, "full")],
)
def test_logits_match_for_each_tower_layout(tmp_path, tower, options, strategy):
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    model, config = hf_vlm(tmp_path, tower, **options)
    export_llava_hf(model, config, tmp_path / "llava")
    assert not [p for p in (tmp_path / "llava").iterdir() if p.suffix in (".bin", ".pt", ".pth")]
    llava = LlavaForConditionalGeneration.from_pretrained(tmp_path / "llava").eval()
    processor = AutoProcessor.from_pretrained(tmp_path / "llava")
    assert llava.config.vision_feature_select_strategy == strategy
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

    spec = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "linear"}, "llm": {"name": "tiny_llama"}}
    model = build_vlm(spec)
    with pytest.raises(ValueError) as err:
        export_llava_hf(model, ModelConfig.model_validate(spec), tmp_path / "out")
    message = str(err.value)
    assert "vision encoder is TinyViT, not a CLIP or SigLIP tower" in message
    assert "projector is MLPProjector of depth 1" in message
    assert "--format vlmkit" in message and not (tmp_path / "out").exists()
    # tiny_llama is a Hugging Face Llama: no complaint about the LLM.
    assert "the LLM" not in message


def test_towers_at_a_non_native_resolution_are_refused(tmp_path):
    model, config = hf_vlm(tmp_path, "clip", image_size=48)
    with pytest.raises(ValueError, match="runs at 48px, not its native 32px"):
        export_llava_hf(model, config, tmp_path / "out")
