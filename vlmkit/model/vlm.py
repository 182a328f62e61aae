"""The visual language model: vision encoder -> projector -> LLM backbone."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from vlmkit.model.llm.base import POSITION_IDS, LLMBackbone
from vlmkit.model.projectors.base import Projector
from vlmkit.model.splice import (
    causal_lm_loss,
    is_packed,
    isolating_position_ids,
    mask_image_labels,
    packed_attention_mask,
    shift_targets,
    splice_image_features,
    target_positions,
)
from vlmkit.model.vision.base import VisionEncoder

if TYPE_CHECKING:
    from vlmkit.config import ModelConfig

PARTS = ("vision_encoder", "projector", "llm")


@dataclass
class VLMOutput:
    """``logits`` ``[B, L, V]`` (``[B, K, V]`` at ``positions [K]`` when only target positions
    were computed); ``loss`` and ``num_target_tokens`` when labels are given."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None
    num_target_tokens: torch.Tensor | None = None
    positions: torch.Tensor | None = None


class VisionLanguageModel(nn.Module):
    """Encodes images, projects them to LLM width and splices them into the token stream.

    See :mod:`vlmkit.model.splice` for the batch contract. ``forward`` takes
    ``input_ids [B, L]``, ``pixel_values [N, 3, H, W]`` (or ``None``), and optionally
    ``attention_mask``, ``position_ids``, ``labels`` (all ``[B, L]``) and ``image_positions``.
    """

    def __init__(self, vision_encoder: VisionEncoder, projector: Projector, llm: LLMBackbone) -> None:
        super().__init__()
        self.vision_encoder = vision_encoder
        self.projector = projector
        self.llm = llm

    @property
    def num_image_tokens(self) -> int:
        """LLM tokens per image (the length of one placeholder run)."""
        return self.projector.num_output_tokens

    @property
    def image_token_id(self) -> int:
        return self.llm.image_token_id

    @property
    def tokenizer(self) -> Any:
        return self.llm.tokenizer

    @property
    def image_transform(self):
        return self.vision_encoder.image_transform

    def parts(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in PARTS}

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` -> ``[N, num_image_tokens, llm.hidden_size]``.

        A frozen encoder runs without autograd, so none of its activations are kept.
        """
        frozen = not any(p.requires_grad for p in self.vision_encoder.parameters())
        with torch.no_grad() if frozen else contextlib.nullcontext():
            features = self.vision_encoder(pixel_values)
        weight = next(self.projector.parameters(), None)
        if weight is not None and not torch.is_autocast_enabled(features.device.type):
            features = features.to(weight.dtype)  # e.g. a bf16 tower feeding an fp32 projector
        return self.projector(features)

    def embed(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None,
              image_positions: torch.Tensor | None = None, *, image_features: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings with image features spliced in: ``[B, L]`` -> ``[B, L, D]``;
        ``image_positions [N * K]``: the placeholders' flat indices, if the collator gave them.
        ``image_features [N, K, D]``: the images already encoded (:meth:`encode_images`), given
        instead of ``pixel_values``."""
        embeds = self.llm.embed(input_ids)
        if image_features is not None:
            features = image_features.to(device=embeds.device, dtype=embeds.dtype)
        elif pixel_values is not None and pixel_values.shape[0] > 0:
            features = self.encode_images(pixel_values.to(embeds.device))
        else:
            features = embeds.new_zeros(0, self.num_image_tokens, embeds.shape[-1])
        return splice_image_features(embeds, input_ids, features, self.image_token_id, image_positions)

    def attention_inputs(
        self, attention_mask: torch.Tensor | None, position_ids: torch.Tensor | None, dtype: torch.dtype
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(attention_mask, position_ids)`` for the LLM. Unpacked rows pass as given; packed rows in
        the backbone's preferred ``packed_attention`` form: the dense ``[B, 1, L, L]`` mask, or no
        mask and position ids that give every padding run a sample of its own."""
        if not is_packed(position_ids):
            return attention_mask, position_ids
        if self.llm.packed_attention[0] == POSITION_IDS:
            return None, isolating_position_ids(position_ids, attention_mask)
        return packed_attention_mask(position_ids, attention_mask, dtype), position_ids

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        image_positions: torch.Tensor | None = None,
        *,
        targets_only: bool = False,
        loss_reduction: str = "token",
    ) -> VLMOutput:
        """``targets_only`` (with ``labels``): logits only at the positions that predict a target,
        ``[B, K, V]`` (``VLMOutput.positions``), which skips most of the LM head in training.
        ``loss_reduction``: ``"token"`` or ``"sample"`` (see :func:`~vlmkit.model.splice.causal_lm_loss`)."""
        embeds = self.embed(input_ids, pixel_values, image_positions)
        mask, llm_positions = self.attention_inputs(attention_mask, position_ids, embeds.dtype)
        if labels is None:
            return VLMOutput(self.llm(embeds, attention_mask=mask, position_ids=llm_positions))
        labels = mask_image_labels(labels, input_ids, self.image_token_id)
        positions = target_positions(shift_targets(labels, position_ids)) if targets_only else None
        logits = self.llm(embeds, attention_mask=mask, position_ids=llm_positions, logits_to_keep=positions)
        loss, n = causal_lm_loss(logits, labels, position_ids, positions, loss_reduction)
        return VLMOutput(logits, loss, n, positions)


def build_vlm(config: "ModelConfig | dict", *, load_weights: bool = True, device: "str | torch.device | None" = None) -> VisionLanguageModel:
    """Build a :class:`VisionLanguageModel` from the ``model:`` part of a recipe.

    Each part is looked up by ``name`` in its registry and built with its remaining options in one
    :class:`~vlmkit.model.build.BuildContext`; ``load_weights=False`` builds architectures only
    (planning, meta-device validation), ``device`` is where the parts are built.
    """
    from vlmkit.config import ModelConfig
    from vlmkit.model.build import PART_KINDS, BuildContext, build_parts

    cfg = config if isinstance(config, ModelConfig) else ModelConfig.model_validate(config)
    specs = {part: getattr(cfg, part) for part in PART_KINDS}
    return VisionLanguageModel(**build_parts(specs, BuildContext(load_weights=load_weights, device=device)))
