"""``HFCausalLM``: any Hugging Face causal LM + tokenizer as an :class:`LLMBackbone`."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from vlmkit.model.llm.base import DENSE_MASK, IMAGE_TOKEN, POSITION_IDS, AttentionShape, LLMBackbone

log = logging.getLogger(__name__)


def block_mask_bytes(rows: int, length: int) -> int:
    """flex_attention's ``BlockMask`` for ``rows`` rows of ``length``: 128 x 128 blocks, four int32
    block-count vectors and four block-index tables (full and partial blocks, by rows and columns)."""
    blocks = -(-length // 128)
    return rows * 4 * 4 * blocks * (blocks + 1)


@dataclass(frozen=True)
class PackedKernel:
    """An attention implementation that reads packed samples from ``position_ids`` without a dense
    mask: the forms it takes (preferred first) and the bytes of what it builds instead."""

    forms: tuple[str, ...]
    mask_bytes: Callable[[int, int], int]
    trains_on_cpu: bool = False  # flex_attention's CPU kernel is inference only (pytorch/pytorch#148752)


# transformers' eager and sdpa build a dense [B, 1, L, L] mask from position_ids themselves (sdpa
# a bool one that torch converts to a float copy per layer), so for them vlmkit's one shared
# dense mask is cheaper; these kernels need none.
PACKED_KERNELS = {
    "flex_attention": PackedKernel((POSITION_IDS, DENSE_MASK), block_mask_bytes),
    "flash_attention_2": PackedKernel((POSITION_IDS,), lambda rows, length: 0),  # varlen: cumulative lengths
    "flash_attention_3": PackedKernel((POSITION_IDS,), lambda rows, length: 0),
}


def masks_from_position_ids(model) -> bool:
    """True when ``model``'s modeling code builds its masks with transformers' masking utilities,
    which (with no ``attention_mask`` and no cache) tell packed samples apart by ``position_ids``."""
    module = sys.modules.get(type(model.base_model).__module__)
    return getattr(module, "create_causal_mask", None) is not None


def ensure_image_token(tokenizer, image_token: str = IMAGE_TOKEN) -> int:
    """Add ``image_token`` as a special token unless the vocabulary has it; return its id."""
    if image_token not in tokenizer.get_vocab():
        from tokenizers import AddedToken

        tokenizer.add_tokens([AddedToken(image_token, special=True, normalized=False)], special_tokens=True)
    return tokenizer.convert_tokens_to_ids(image_token)


def ensure_pad_token(tokenizer) -> None:
    """Give a tokenizer without a pad token one: its EOS (else UNK) token, so the vocabulary is unchanged.

    Padding never reaches the loss (labels are -100 there), so reusing EOS is safe.
    """
    if tokenizer.pad_token is not None:
        return
    fallback = tokenizer.eos_token or tokenizer.unk_token
    if fallback is None:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
    else:
        tokenizer.pad_token = fallback


class HFCausalLM(LLMBackbone):
    """Wraps ``model`` (a ``PreTrainedModel`` with a causal-LM head) and its ``tokenizer``.

    The image placeholder is added to ``tokenizer`` only if missing, and the input (and tied output)
    embeddings grow only when the tokenizer outgrows them; a pad token is set if missing.
    ``embed``: ``[B, L]`` -> ``[B, L, hidden_size]``; ``forward``: ``[B, L, hidden_size]`` -> logits
    ``[B, L, vocab]``. ``attention_mask`` may be ``[B, L]`` or an additive ``[B, 1, L, L]`` mask (packed
    sequences; used as-is by the eager and sdpa attention of transformers' Llama/Qwen2/Mistral...).
    ``packed_attention`` follows the attention implementation (``attn_implementation``): models
    whose masks come from transformers' masking utilities take ``position_ids`` alone too, preferred
    with ``flex_attention`` (a sparse ``BlockMask``) and flash attention (varlen, position ids only).
    """

    def __init__(self, model, tokenizer, image_token: str = IMAGE_TOKEN) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.image_token = image_token
        self.image_token_id = ensure_image_token(tokenizer, image_token)
        ensure_pad_token(tokenizer)
        self._grow_embeddings(len(tokenizer))
        if getattr(model.config, "pad_token_id", None) is None:
            model.config.pad_token_id = tokenizer.pad_token_id

    def _grow_embeddings(self, vocab: int) -> None:
        rows = self.model.get_input_embeddings().num_embeddings
        if vocab <= rows:
            return
        log.info("resizing token embeddings %d -> %d for the image/pad tokens", rows, vocab)
        self.model.resize_token_embeddings(vocab, mean_resizing=False)
        # new rows start at the mean of the old ones (cheap, deterministic, a neutral starting point)
        with torch.no_grad():
            for emb in {id(e.weight): e for e in (self.model.get_input_embeddings(), self.model.get_output_embeddings()) if e is not None}.values():
                if not emb.weight.is_meta:
                    emb.weight[rows:] = emb.weight[:rows].mean(dim=0, keepdim=True)

    @property
    def hidden_size(self) -> int:  # type: ignore[override]
        return self.model.get_input_embeddings().embedding_dim

    @property
    def lm_head(self) -> nn.Module | None:
        return self.model.get_output_embeddings()

    @property
    def attn_implementation(self) -> str:
        return self.model.config._attn_implementation

    @property
    def packed_attention(self) -> tuple[str, ...]:  # type: ignore[override]
        if not masks_from_position_ids(self.model):
            return (DENSE_MASK,)
        kernel = PACKED_KERNELS.get(self.attn_implementation)
        return kernel.forms if kernel else (DENSE_MASK, POSITION_IDS)

    def packed_mask_bytes(self, rows: int, length: int) -> int:
        if self.packed_attention[0] == DENSE_MASK:
            return super().packed_mask_bytes(rows, length)
        return PACKED_KERNELS[self.attn_implementation].mask_bytes(rows, length)

    def layers(self) -> nn.ModuleList:
        """The decoder's ``ModuleList`` of ``config.num_hidden_layers`` layers."""
        count = self.model.config.num_hidden_layers
        found = [m for m in self.model.base_model.children() if isinstance(m, nn.ModuleList) and len(m) == count]
        return found[0] if found else super().layers()

    def attention_shape(self) -> AttentionShape:
        cfg = self.model.config
        heads = cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
        return AttentionShape(cfg.num_hidden_layers, heads, getattr(cfg, "num_key_value_heads", None) or heads, head_dim)

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(input_ids)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        kernel = PACKED_KERNELS.get(self.attn_implementation)
        if kernel and not kernel.trains_on_cpu and inputs_embeds.device.type == "cpu" and torch.is_grad_enabled():
            raise ValueError(f"model.llm.attn_implementation={self.attn_implementation} cannot train on the CPU "
                             "(PyTorch compiles its backward for GPUs only); use sdpa there")
        out = self.model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
            return_dict=True,
            logits_to_keep=0 if logits_to_keep is None else logits_to_keep,  # 0: every position
        )
        return out.logits

    def decode(self, inputs_embeds, attention_mask, position_ids, cache=None):
        """A cached step through the Hugging Face model (its ``past_key_values``)."""
        out = self.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=cache, use_cache=True, return_dict=True)
        return out.logits, out.past_key_values

    @torch.no_grad()
    def generate(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        max_new_tokens: int,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        eos_token_ids: tuple[int, ...] = (),
        stop: tuple[str, ...] = (),
    ) -> torch.Tensor:
        """Hugging Face ``generate`` from ``inputs_embeds [B, L, D]`` (left-padded); only the new
        ids ``[B, T]``, finished rows padded with the pad token. Sampling draws from torch's
        generator seeded with ``seed`` (the caller's global RNG state is kept). ``None`` for a
        one-position prompt: transformers then feeds the prompt's embeddings again at the second
        step (its ``len(cache_position) == inputs_embeds.shape[1]`` test), so vlmkit's loop decodes."""
        if inputs_embeds.shape[1] == 1:
            return None
        from transformers import GenerationConfig

        eos = list(eos_token_ids) or ([self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else None)
        config = GenerationConfig(
            max_new_tokens=max_new_tokens, do_sample=do_sample and temperature > 0, temperature=temperature or 1.0,
            top_k=top_k or None, top_p=top_p, eos_token_id=eos, pad_token_id=self.tokenizer.pad_token_id,
            stop_strings=list(stop) or None,
        )
        devices = [inputs_embeds.device] if inputs_embeds.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            return self.model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, generation_config=config,
                                       tokenizer=self.tokenizer if stop else None)

    def enable_activation_checkpointing(self) -> None:
        """Recompute each decoder layer's activations in backward (non-reentrant)."""
        self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.config.use_cache = False
