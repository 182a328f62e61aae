"""``hf_causal_lm``: any ``AutoModelForCausalLM`` + ``AutoTokenizer`` from a hub name or a local folder."""

from __future__ import annotations

import logging
from typing import Any

from vlmkit.model.hf_loading import instantiate, load_config, parse_dtype
from vlmkit.model.llm.base import IMAGE_TOKEN
from vlmkit.model.llm.hf_backbone import HFCausalLM

log = logging.getLogger(__name__)


def load_tokenizer(source: str, load_weights: bool, trust_remote_code: bool = False):
    """``AutoTokenizer`` of ``source``; without weights, a byte-level stand-in when none is available.

    The stand-in (:func:`tiny_tokenizer`) only lets an architecture-only model be assembled and
    planned offline: its ids are not the real model's and its lengths count bytes (an upper bound).
    """
    from transformers import AutoTokenizer

    try:
        # without weights nothing is downloaded: a local folder or the Hugging Face cache only
        return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, local_files_only=not load_weights)
    except (OSError, ValueError) as exc:
        if load_weights:
            raise FileNotFoundError(f"cannot load the tokenizer of {source!r}: {exc}".splitlines()[0]) from exc
    from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer

    log.warning("no tokenizer for %s offline; using a byte-level stand-in (architecture only)", source)
    return tiny_tokenizer()


def hf_causal_lm(
    load_weights: bool = True,
    pretrained: str | None = None,
    tokenizer: str | None = None,
    torch_dtype: str | None = None,
    attn_implementation: str = "sdpa",
    trust_remote_code: bool = False,
    activation_checkpointing: bool = False,
    image_token: str = IMAGE_TOKEN,
    config_overrides: dict[str, Any] | None = None,
    random_init: bool = False,
) -> HFCausalLM:
    """Load ``pretrained`` (hub name or local folder) with its tokenizer (or ``tokenizer``, another source).

    ``load_weights=False`` builds the architecture on the meta device from the local folder, the
    Hugging Face cache, or the config vlmkit ships for the VILA models (see ``docs/components.md``).
    ``config_overrides`` set config fields before building (e.g. ``{"num_hidden_layers": 2}``).
    ``random_init=True`` builds the architecture with random weights on the current default device
    (training from scratch, benchmarks): nothing is downloaded, the config and tokenizer come from
    where ``load_weights=False`` finds them.
    """
    if not pretrained:
        raise ValueError("hf_causal_lm needs 'pretrained': a Hugging Face hub name or a local folder")
    if trust_remote_code:
        log.warning("trust_remote_code=True: running model code shipped with %s", pretrained)
    from transformers import AutoConfig, AutoModelForCausalLM

    from_checkpoint = load_weights and not random_init
    config = load_config(AutoConfig, pretrained, from_checkpoint, config_overrides, trust_remote_code=trust_remote_code)
    model = instantiate(
        AutoModelForCausalLM, config, pretrained, load_weights, random_init,
        dtype=parse_dtype(torch_dtype), attn_implementation=attn_implementation, trust_remote_code=trust_remote_code,
    )
    llm = HFCausalLM(model, load_tokenizer(tokenizer or pretrained, from_checkpoint, trust_remote_code), image_token)
    if activation_checkpointing:
        llm.enable_activation_checkpointing()
    return llm
