"""The Composer face of a :class:`~vlmkit.model.vlm.VisionLanguageModel`."""

from __future__ import annotations

import contextlib

import torch
from composer.models import ComposerModel

from vlmkit.model.vlm import VisionLanguageModel, VLMOutput
from vlmkit.train.flops import FlopModel, flop_model, image_shape
from vlmkit.train.metrics import Perplexity, TokenAccuracy, next_token_targets

INPUT_KEYS = ("input_ids", "pixel_values", "attention_mask", "position_ids", "labels", "image_positions")


class VLMComposerModel(ComposerModel):
    """Wraps a VLM for :class:`composer.Trainer`.

    ``forward(batch)`` takes a batch dict per :mod:`vlmkit.model.splice` and returns the
    :class:`VLMOutput`; ``loss`` is its cross-entropy, averaged per ``loss_reduction`` (``"token"``
    or ``"sample"``, see :func:`vlmkit.model.splice.causal_lm_loss`). Metrics: ``TokenAccuracy`` and
    ``Perplexity`` over next-token targets. ``flops_per_batch(batch)`` gives Composer's speed
    monitor the training FLOPs (see :mod:`vlmkit.train.flops`), computed for the parts that are
    trainable when the wrapper is built. ``autocast_dtype`` runs the forward under
    ``torch.autocast`` on the CPU (Composer's own precisions cover the GPU).
    """

    def __init__(self, model: VisionLanguageModel, *, autocast_dtype: torch.dtype | None = None, metrics: bool = True,
                 loss_reduction: str = "token") -> None:
        super().__init__()
        self.model = model
        self.loss_reduction = loss_reduction
        self.autocast_dtype = autocast_dtype
        self.use_metrics = metrics
        self.flops: FlopModel = flop_model(model)
        self._frozen = [p for p in model.parts().values() if not any(q.requires_grad for q in p.parameters())]

    def train(self, mode: bool = True) -> "VLMComposerModel":
        """Train mode, except for the parts that were fully frozen when the wrapper was built."""
        super().train(mode)
        if mode:
            for part in self._frozen:
                part.eval()
        return self

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=self.autocast_dtype)

    def forward(self, batch: dict) -> VLMOutput:
        inputs = {k: batch[k] for k in INPUT_KEYS if batch.get(k) is not None}
        with self._autocast():
            # eval metrics need every position
            out = self.model(**inputs, targets_only=self.training, loss_reduction=self.loss_reduction)
            if out.loss is not None and self.training:
                out.loss = out.loss + self._touch_idle_image_path(batch, out.loss)
        return out

    def _touch_idle_image_path(self, batch: dict, loss: torch.Tensor) -> torch.Tensor:
        """Zero that still depends on the image path's trainable weights when the batch has no images,
        so every trainable parameter gets a (zero) gradient and data-parallel ranks stay in step."""
        pixels = batch.get("pixel_values")
        if pixels is not None and pixels.shape[0] > 0:
            return loss.new_zeros(())
        image_path = (*self.model.vision_encoder.parameters(), *self.model.projector.parameters())
        if not any(p.requires_grad for p in image_path):
            return loss.new_zeros(())
        dummy = torch.zeros(image_shape(self.model), device=batch["input_ids"].device)
        return self.model.encode_images(dummy).sum() * 0.0

    def loss(self, outputs: VLMOutput, batch: dict) -> torch.Tensor:
        if outputs.loss is None:
            raise ValueError("the batch has no 'labels'; training batches need labels (-100 where no loss is taken)")
        return outputs.loss

    def get_metrics(self, is_train: bool = False) -> dict:
        if not self.use_metrics:
            return {}
        return {"TokenAccuracy": TokenAccuracy(), "Perplexity": Perplexity()}

    def update_metric(self, batch: dict, outputs: VLMOutput, metric) -> None:
        metric.update(outputs, next_token_targets(batch, self.model.image_token_id))

    def flops_per_batch(self, batch: dict) -> float:
        return self.flops.batch_flops(batch, self.model.image_token_id)  # training computes logits at targets only
