"""``vlmkit`` export format: every kind of part round-trips through ``from_pretrained`` bit for
bit, HF parts are plain transformers folders, and bad folders are refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import vlmkit
from tiny_hf import hf_vlm
from vlmkit.config import ModelConfig
from vlmkit.export.vlmkit_format import export_vlmkit, from_pretrained, load_export
from vlmkit.model.vlm import build_vlm
from vlmkit.testing import vlm_batch

TINY = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}, "chat_template": "chatml"}


def perturbed(model):
    """Weights no factory would produce, so a reload that rebuilt instead of loading would fail."""
    torch.manual_seed(11)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def assert_same_model(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    batch = vlm_batch(a, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(a(**batch).logits, b(**batch).logits, atol=0, rtol=0)


def test_tiny_model_round_trips(tmp_path):
    model = perturbed(build_vlm(TINY))
    export_vlmkit(model, ModelConfig.model_validate(TINY), tmp_path / "out", source={"recipe": "t"})
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"config.json", "llm", "vision_tower", "mm_projector"}
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["model"]["vision_encoder"]["name"] == "tiny_vit" and config["model"]["chat_template"] == "chatml"
    assert config["num_image_tokens"] == 16
    weights = [p.name for p in (tmp_path / "out").rglob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".pth")]
    assert sorted(weights) == ["model.safetensors"] * 3  # safetensors only, one file per part
    reloaded, model_config = load_export(tmp_path / "out")
    assert model_config.chat_template == "chatml"
    assert_same_model(model, reloaded)
    assert from_pretrained(tmp_path / "out").chat_template == "chatml"


def test_llm_folder_is_a_plain_transformers_model(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = perturbed(build_vlm(TINY))
    export_vlmkit(model, ModelConfig.model_validate(TINY), tmp_path / "out")
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "llm")
    tok = AutoTokenizer.from_pretrained(tmp_path / "out" / "llm")
    assert tok.convert_tokens_to_ids("<image>") == model.image_token_id
    ids = torch.tensor([tok("two red squares")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model.llm(model.llm.embed(ids)), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("tower", ["clip", "siglip"])
def test_hugging_face_parts_round_trip(tmp_path, tower):
    from transformers import AutoModel

    model, config = hf_vlm(tmp_path, tower)
    perturbed(model)
    export_vlmkit(model, config, tmp_path / "out")
    assert_same_model(model, vlmkit.export.vlmkit_format.from_pretrained(tmp_path / "out"))
    tower_folder = AutoModel.from_pretrained(tmp_path / "out" / "vision_tower")
    assert tower_folder.config.num_hidden_layers == 2  # as vlmkit runs it: select_layer -2 of 3


def test_a_plugin_projector_round_trips(tmp_path):
    spec = {**TINY, "projector": {"name": "c_abstractor", "num_queries": 4, "depth": 1}}
    model = perturbed(build_vlm(spec))
    export_vlmkit(model, ModelConfig.model_validate(spec), tmp_path / "out")
    part = json.loads((tmp_path / "out" / "mm_projector" / "vlmkit_part.json").read_text())
    assert part["loader"] == "rebuild" and part["component"]["name"] == "c_abstractor"
    assert part["dims"] == {"in_dim": 32, "out_dim": 64, "num_input_tokens": 16, "grid": [4, 4]}
    assert_same_model(model, from_pretrained(tmp_path / "out"))


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    model = build_vlm(TINY)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists"):
        export_vlmkit(model, ModelConfig.model_validate(TINY), tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
    export_vlmkit(model, ModelConfig.model_validate(TINY), tmp_path / "out", overwrite=True)
    assert not (tmp_path / "out" / "keep.txt").exists() and (tmp_path / "out" / "config.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporaries left


def test_a_failed_export_leaves_nothing(tmp_path, monkeypatch):
    import vlmkit.export.vlmkit_format as fmt

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fmt, "write_part", boom)
    with pytest.raises(RuntimeError):
        export_vlmkit(build_vlm(TINY), ModelConfig.model_validate(TINY), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("setup", "error", "message"),
    [
        (lambda d: None, FileNotFoundError, "config.json is missing"),
        (lambda d: (d / "config.json").write_text('{"model_type": "llava"}'), ValueError, "LlavaForConditionalGeneration"),
        (lambda d: (d / "config.json").write_text('{"format": "vlmkit", "format_version": 99}'), ValueError, "upgrade vlmkit"),
    ],
)
def test_folders_that_are_not_exports_are_refused(tmp_path, setup, error, message):
    setup(tmp_path)
    with pytest.raises(error, match=message):
        from_pretrained(tmp_path)


def test_weights_from_another_architecture_are_refused(tmp_path):
    export_vlmkit(build_vlm(TINY), ModelConfig.model_validate(TINY), tmp_path / "a")
    wide = {**TINY, "projector": {"name": "mlp", "depth": 3}}
    export_vlmkit(build_vlm(wide), ModelConfig.model_validate(wide), tmp_path / "b")
    (tmp_path / "b" / "mm_projector" / "model.safetensors").replace(tmp_path / "a" / "mm_projector" / "model.safetensors")
    with pytest.raises(ValueError, match="do not match the MLPProjector"):
        from_pretrained(tmp_path / "a")


@pytest.mark.slow  # real packaged weights: EfficientNet-Lite0 (timm, rebuilt) + SmolLM2-135M (Hugging Face)
def test_the_embedded_default_round_trips(tmp_path):
    from vlmkit.config import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "embedded.yaml")
    model = build_vlm(recipe.model).eval()
    export_vlmkit(model, recipe.model, tmp_path / "out")
    parts = {p: json.loads((tmp_path / "out" / p / "vlmkit_part.json").read_text())["loader"] for p in ("vision_tower", "mm_projector", "llm")}
    assert parts == {"vision_tower": "rebuild", "mm_projector": "rebuild", "llm": "hf_causal_lm"}
    assert_same_model(model, from_pretrained(tmp_path / "out"))


def test_generate_takes_an_exported_folder(tmp_path, capsys):
    """``vlmkit generate OUT`` (and ``vlmkit eval OUT``) load the folder through ``vlmkit.from_pretrained``."""
    from vlmkit.cli import main
    from vlmkit.testing import random_images

    model = perturbed(build_vlm(TINY))
    export_vlmkit(model, ModelConfig.model_validate(TINY), tmp_path / "out")
    random_images(1, seed=0)[0].save(tmp_path / "image.png")
    capsys.readouterr()
    rc = main(["generate", str(tmp_path / "out"), "--image", str(tmp_path / "image.png"), "--prompt", "What is it?",
               "--max-new-tokens", "4", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    reply = json.loads(captured.out)
    assert reply["tokens"] == 4 and reply["finish"] == "length" and isinstance(reply["text"], str)
