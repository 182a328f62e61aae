"""``HFCausalLM``: any Hugging Face causal LM + tokenizer as an :class:`LLMBackbone`."""

from __future__ import annotations

import logging

import torch

from vlmkit.model.llm.base import IMAGE_TOKEN, LLMBackbone

log = logging.getLogger(__name__)


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
    def vocab_size(self) -> int:
        return self.model.get_output_embeddings().weight.shape[0]

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(input_ids)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out = self.model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
            return_dict=True,
            logits_to_keep=0 if logits_to_keep is None else logits_to_keep,  # 0: every position
        )
        return out.logits

    @torch.no_grad()
    def generate(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        """Decode from ``inputs_embeds [B, L, D]`` (left-padded); returns only new ids ``[B, T]``."""
        kwargs.setdefault("pad_token_id", self.tokenizer.pad_token_id)
        return self.model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)

    def enable_activation_checkpointing(self) -> None:
        """Recompute each decoder layer's activations in backward (non-reentrant)."""
        self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.config.use_cache = False
