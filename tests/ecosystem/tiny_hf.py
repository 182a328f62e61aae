"""Tiny Hugging Face checkpoints written by the tests (no downloads) and a VLM made from them."""

from __future__ import annotations

from pathlib import Path

import torch

TOWER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2, image_size=32, patch_size=8)


def save_clip(folder: Path) -> Path:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(1)
    CLIPVisionModel(CLIPVisionConfig(**TOWER)).save_pretrained(folder)
    return folder


def save_siglip(folder: Path) -> Path:
    from transformers import SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(2)
    SiglipVisionModel(SiglipVisionConfig(**TOWER)).save_pretrained(folder)
    return folder


def save_llama(folder: Path, tie: bool = False) -> Path:
    """A tiny LlamaForCausalLM + the byte tokenizer (with its ChatML template)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer

    tok = tiny_tokenizer()
    torch.manual_seed(3)
    cfg = LlamaConfig(vocab_size=len(tok) + 1, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=tie)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def hf_llm(folder: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from vlmkit.model.llm.hf_backbone import HFCausalLM

    return HFCausalLM(AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder))


def hf_vlm(root: Path, tower: str = "clip", projector: dict | None = None, **tower_options):
    """``(model, model_config)``: a registered ``clip``/``siglip`` tower, a registered projector and
    a Hugging Face Llama, all tiny, with the projector's weights randomised."""
    from vlmkit.config import ModelConfig
    from vlmkit.model.vlm import VisionLanguageModel
    from vlmkit.registry import registries

    saver = save_clip if tower == "clip" else save_siglip
    tower_dir, llm_dir = saver(root / tower), save_llama(root / "llama")
    vision = registries().vision_encoders.get(tower)(pretrained=str(tower_dir), **tower_options)
    llm = hf_llm(llm_dir)
    spec = projector or {"name": "mlp"}
    torch.manual_seed(4)
    proj = registries().projectors.get(spec["name"])(
        in_dim=vision.hidden_size, out_dim=llm.hidden_size, num_input_tokens=vision.num_tokens, grid=vision.grid,
        **{k: v for k, v in spec.items() if k != "name"},
    )
    config = ModelConfig.model_validate({
        "vision_encoder": {"name": tower, "pretrained": str(tower_dir), **tower_options},
        "projector": spec,
        "llm": {"name": "hf_causal_lm", "pretrained": str(llm_dir)},
    })
    return VisionLanguageModel(vision, proj, llm).eval(), config
