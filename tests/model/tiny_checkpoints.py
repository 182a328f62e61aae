"""Tiny Hugging Face checkpoints the tests write themselves (no downloads)."""

from pathlib import Path

import torch

TOWER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2, image_size=32, patch_size=8)


def save_clip(folder: Path, mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6)) -> Path:
    """A full CLIPModel checkpoint (vision + text) with its image processor, as on the hub."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    CLIPModel(CLIPConfig(vision_config=TOWER, text_config=text)).save_pretrained(folder)
    CLIPImageProcessor(image_mean=list(mean), image_std=list(std), crop_size=32, size=32).save_pretrained(folder)
    return folder


def save_siglip(folder: Path) -> Path:
    """A SiglipVisionModel checkpoint (with its attention-pool head) and no processor config."""
    from transformers import SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)
    SiglipVisionModel(SiglipVisionConfig(**TOWER)).save_pretrained(folder)
    return folder


def save_llama(folder: Path, vocab: int = 300) -> Path:
    """A tiny LlamaForCausalLM and the byte tokenizer (no pad token, no <image>) in ``folder``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, eos_token_id=258)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok = tiny_tokenizer()
    tok.pad_token = None
    tok.save_pretrained(folder)
    return folder
