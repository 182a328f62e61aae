"""The LLM-backbone interface: a causal LM driven through ``inputs_embeds``."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

IMAGE_TOKEN = "<image>"

# how a backbone can keep the samples packed into one row apart (``LLMBackbone.packed_attention``)
DENSE_MASK = "dense_mask"
POSITION_IDS = "position_ids"


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
