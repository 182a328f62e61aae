"""Training metrics over next-token targets: token accuracy and perplexity (torchmetrics)."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from vlmkit.model.splice import IGNORE_INDEX, mask_image_labels, sample_index, shift_targets


def next_token_targets(batch: dict, image_token_id: int) -> torch.Tensor:
    """``[B, L - 1]`` targets the logits at ``[:, :-1]`` are scored against (images and packed
    boundaries masked with ``-100``), exactly as the loss sees them."""
    labels = mask_image_labels(batch["labels"], batch["input_ids"], image_token_id)
    return shift_targets(labels, batch.get("position_ids"))


def count_target_tokens(batch: dict, image_token_id: int) -> int:
    return int((next_token_targets(batch, image_token_id) != IGNORE_INDEX).sum())


def count_target_samples(batch: dict, image_token_id: int) -> int:
    """Samples (packed segments, or rows) with at least one next-token target."""
    scored = next_token_targets(batch, image_token_id) != IGNORE_INDEX
    return int(sample_index(batch["labels"], batch.get("position_ids"))[scored].unique().numel())


class TokenAccuracy(Metric):
    """Fraction of target tokens whose arg-max prediction is right.

    ``update(outputs, targets)``: ``outputs.logits [B, L, V]`` (or ``[B, K, V]`` at
    ``outputs.positions``), ``targets [B, L - 1]``.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("correct", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, outputs, targets: torch.Tensor) -> None:
        positions = getattr(outputs, "positions", None)
        if positions is None:
            pred = outputs.logits[:, :-1].argmax(dim=-1)
        else:
            pred, targets = outputs.logits.argmax(dim=-1), targets[:, positions]
        keep = targets != IGNORE_INDEX
        self.correct += (pred[keep] == targets[keep]).sum().float()
        self.total += keep.sum().float()

    def compute(self) -> torch.Tensor:
        return self.correct / self.total.clamp(min=1)


class Perplexity(Metric):
    """``exp`` of the token-mean cross-entropy, weighted by target tokens.

    ``update(outputs, targets)``: uses ``outputs.loss`` (a token mean) and ``outputs.num_target_tokens``.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("sum_loss", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, outputs, targets: torch.Tensor) -> None:
        n = outputs.num_target_tokens.detach().double()
        self.sum_loss += outputs.loss.detach().double() * n
        self.total += n

    def compute(self) -> torch.Tensor:
        return torch.exp(self.sum_loss / self.total.clamp(min=1))
