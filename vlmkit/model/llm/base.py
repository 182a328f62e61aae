"""The LLM-backbone interface: a causal LM driven through ``inputs_embeds``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import torch
from torch import nn

from vlmkit.model.layers import repeated_layers

IMAGE_TOKEN = "<image>"

# how a backbone can keep the samples packed into one row apart (``LLMBackbone.packed_attention``)
DENSE_MASK = "dense_mask"
POSITION_IDS = "position_ids"


class AttentionShape(NamedTuple):
    """The attention of an LLM: ``layers`` decoder layers, each ``heads`` query heads over
    ``kv_heads`` key/value heads of ``head_dim`` (``width = heads * head_dim``)."""

    layers: int
    heads: int
    kv_heads: int
    head_dim: int

    @property
    def width(self) -> int:
        return self.heads * self.head_dim


class LLMBackbone(nn.Module, ABC):
    """A causal language model plus its tokenizer.

    ``tokenizer`` contains the image placeholder token (``image_token``, id ``image_token_id``);
    the data pipeline writes one run of ``num_image_tokens`` placeholder ids per image, and the VLM
    overwrites their embeddings with projected image features.

    ``embed(input_ids)``: ``[B, L]`` -> ``[B, L, hidden_size]``.
    ``forward(inputs_embeds, attention_mask, position_ids, logits_to_keep)``: ``[B, L, hidden_size]``
    -> logits ``[B, L, vocab_size]``, or ``[B, K, vocab_size]`` at the ``K`` sequence positions
    ``logits_to_keep`` (``[K]``, increasing) when given (training needs logits only where there
    are targets). ``attention_mask`` is ``[B, L]`` (1 = real token) or an additive 4-D mask
    ``[B, 1, L, L]`` (0 = attend, -inf = blocked) used for packed sequences.

    ``packed_attention``: the forms of packed-row isolation ``forward`` accepts, preferred first:
    ``"dense_mask"`` (the additive ``[B, 1, L, L]`` mask above) and ``"position_ids"``
    (``attention_mask=None``; a new sample starts wherever a position is not the previous one + 1,
    and the backbone builds its own mask from that, sparse where its kernel allows).

    What training, planning and generation ask of a backbone, each with a default that keeps a
    backbone working when it does not override it: ``layers()`` (the decoder layers),
    ``attention_shape()``, ``vocab_size``, ``decode`` (a cached decoding step) and ``generate``
    (a decoder of its own).
    """

    tokenizer: object
    hidden_size: int
    image_token: str = IMAGE_TOKEN
    image_token_id: int
    packed_attention: tuple[str, ...] = (DENSE_MASK,)

    def packed_mask_bytes(self, rows: int, length: int) -> int:
        """Bytes of the attention mask that a training forward over ``rows`` packed rows of ``length``
        tokens builds in the preferred ``packed_attention`` form and keeps for backward; here the
        dense additive mask at the parameters' dtype (one tensor shared by every layer)."""
        weight = next(self.parameters(), None)
        return rows * length * length * (weight.element_size() if weight is not None else 4)

    @property
    def lm_head(self) -> nn.Module | None:
        """The output projection (hidden -> vocabulary), when the backbone has one as a module; FLOP
        accounting uses it to count the head only where ``logits_to_keep`` asks for logits."""
        return None

    def layers(self) -> nn.ModuleList:
        """The decoder layers in order (``llm_trainable_layers``, FSDP2 units, activation
        checkpointing, compilation); by default the longest ``ModuleList`` of same-class modules
        inside the backbone, empty when there is none."""
        return repeated_layers(self)

    def attention_shape(self) -> AttentionShape | None:
        """The attention's shape (FLOP counting); ``None`` (the default): unknown, not counted."""
        return None

    @property
    def vocab_size(self) -> int:
        """Rows of the logits: the ``lm_head``'s outputs, else the tokenizer's length."""
        head = self.lm_head
        return int(head.weight.shape[0]) if head is not None else len(self.tokenizer)

    def decode(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor, cache: Any = None
    ) -> tuple[torch.Tensor, Any]:
        """One step of cached decoding: with ``cache=None`` the prompt (prefill), else the new
        tokens after the ones ``cache`` holds. ``inputs_embeds [B, L, D]``, ``position_ids [B, L]``
        of these tokens; ``attention_mask [B, cached + L]`` (1 = real token) over everything so far.
        Returns logits ``[B, L, V]`` and the cache for the next step. The default keeps the
        embeddings as the cache and runs ``forward`` over the whole sequence again."""
        new = inputs_embeds.shape[1]
        if cache is not None:
            inputs_embeds, position_ids = (torch.cat([old, now], dim=1) for old, now in zip(cache, (inputs_embeds, position_ids)))
        logits = self(inputs_embeds, attention_mask=attention_mask, position_ids=position_ids)
        return logits[:, -new:], (inputs_embeds, position_ids)

    def generate(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, **settings: Any) -> torch.Tensor | None:
        """New token ids ``[B, T]`` from a left-padded prompt ``[B, L, D]`` with a decoder of the
        backbone's own, or ``None`` (the default): vlmkit's loop decodes through :meth:`decode`.
        ``settings``: ``max_new_tokens``, ``do_sample``, ``temperature``, ``top_k`` (0: off),
        ``top_p``, ``seed``, ``eos_token_ids`` (a row ends at any of them), ``stop`` (strings)."""
        return None

    @abstractmethod
    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` token ids -> ``[B, L, hidden_size]`` input embeddings."""

    @abstractmethod
    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, L, hidden_size]`` -> logits ``[B, L, vocab_size]`` (``[B, K, vocab_size]`` at ``logits_to_keep``)."""
