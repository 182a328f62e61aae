"""Batch arithmetic: per-device batch and microbatches from the recipe's global batch, and the
Composer ``DataSpec`` that knows how a VLM batch splits (rows carry their own images)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vlmkit.train.metrics import count_target_samples, count_target_tokens


@dataclass(frozen=True)
class BatchPlan:
    """``device_batch`` samples per process per step; ``microbatch`` per forward (``"auto"`` on GPU);
    ``grad_accum`` microbatches per step (``None`` when Composer picks it)."""

    global_batch: int
    world_size: int
    device_batch: int
    microbatch: int | str
    grad_accum: int | None


def plan_batch(global_batch: int, world_size: int, microbatch: int | str | None, on_gpu: bool) -> BatchPlan:
    """Split ``global_batch`` over ``world_size`` processes. Raises ``ValueError`` when it does not divide,
    when the microbatch is larger than the device batch, or ``"auto"`` is asked for off the GPU."""
    if global_batch % world_size:
        raise ValueError(
            f"global_batch_size {global_batch} does not divide over {world_size} processes; "
            f"use a multiple of {world_size}"
        )
    device_batch = global_batch // world_size
    if microbatch is None:
        return BatchPlan(global_batch, world_size, device_batch, device_batch, 1)
    if microbatch == "auto":
        if not on_gpu:
            raise ValueError("microbatch_size 'auto' needs a GPU (it searches for the largest size that fits); give a number")
        return BatchPlan(global_batch, world_size, device_batch, "auto", None)
    if microbatch > device_batch:
        raise ValueError(
            f"microbatch_size {microbatch} is larger than the per-process batch {device_batch} "
            f"(global {global_batch} / {world_size} processes); lower it"
        )
    return BatchPlan(global_batch, world_size, device_batch, microbatch, -(-device_batch // microbatch))


def images_per_row(input_ids: torch.Tensor, image_token_id: int, tokens_per_image: int) -> torch.Tensor:
    """``[B, L]`` -> ``[B]`` number of images (placeholder runs) in each row."""
    return (input_ids == image_token_id).sum(dim=1) // tokens_per_image


def split_batch(batch: dict, microbatch_size: int | float, image_token_id: int, tokens_per_image: int) -> list[dict]:
    """Split a batch dict into microbatches of ``microbatch_size`` rows; each gets the images of its rows.

    Tensors with ``B`` rows are sliced by row, ``pixel_values [N, 3, H, W]`` by the rows' image
    counts, ``image_positions [N * K]`` likewise and renumbered from the first row; anything else
    is copied to every microbatch.
    """
    ids = batch["input_ids"]
    rows = ids.shape[0]
    size = max(1, int(microbatch_size))
    offsets = [0, *images_per_row(ids, image_token_id, tokens_per_image).cumsum(0).tolist()]
    out = []
    for r0 in range(0, rows, size):
        r1 = min(r0 + size, rows)
        part: dict[str, Any] = {}
        for key, value in batch.items():
            if key == "pixel_values" and value is not None:
                part[key] = value[offsets[r0]: offsets[r1]]
            elif key == "image_positions" and value is not None:  # flat row * L + col indices
                part[key] = value[offsets[r0] * tokens_per_image: offsets[r1] * tokens_per_image] - r0 * ids.shape[1]
            elif isinstance(value, (torch.Tensor, list)) and len(value) == rows:
                part[key] = value[r0:r1]
            else:
                part[key] = value
        out.append(part)
    return out


def data_spec(dataloader, image_token_id: int, tokens_per_image: int, loss_reduction: str = "token"):
    """A :class:`composer.core.DataSpec` for VLM batches: samples = rows, tokens = real tokens
    (``total``) and the loss's units (``loss_generating``: next-token targets, or under
    ``loss_reduction="sample"`` the samples that have targets), so gradient accumulation and
    data-parallel averaging weight every target token (or every sample) equally."""
    from composer.core import DataSpec

    units = count_target_samples if loss_reduction == "sample" else count_target_tokens

    def num_tokens(batch: dict) -> dict[str, int]:
        mask = batch.get("attention_mask")
        total = int(mask.sum()) if mask is not None else batch["input_ids"].numel()
        return {"total": total, "loss_generating": units(batch, image_token_id)}

    return DataSpec(
        dataloader,
        split_batch=lambda b, size: split_batch(b, size, image_token_id, tokens_per_image),
        get_num_samples_in_batch=lambda b: int(b["input_ids"].shape[0]),
        get_num_tokens_in_batch=num_tokens,
    )
