"""Pure tensor functions that put image tokens into a text sequence and mask what must be masked.

Batch contract (what the data pipeline produces and the VLM consumes):

- ``input_ids`` ``[B, L]``: text ids; every image is a run of ``K`` copies of ``image_token_id``
  (``K`` = the projector's ``num_output_tokens``), so lengths are known before the model runs.
- ``pixel_values`` ``[N, 3, H, W]``: the batch's images in reading order (row by row through the
  batch, left to right within a row); ``N`` may be 0.
- ``labels`` ``[B, L]``: target ids, ``-100`` where no loss is taken; not shifted.
- ``attention_mask`` ``[B, L]``: 1 for real tokens, 0 for padding.
- ``position_ids`` ``[B, L]``: restart at 0 at the start of each packed sample and count up by 1
  within it; padding positions may hold anything (the model numbers each padding run from 0).
- ``image_positions`` ``[N * K]`` (optional, from the collator): the flat index ``row * L + col``
  of every placeholder in reading order, so the splice needs no host sync (``nonzero``); without
  it the model finds the placeholders itself.
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


def placeholder_positions(input_ids: torch.Tensor, image_token_id: int) -> torch.Tensor:
    """``[B, L]`` -> ``[P]``: flat indices ``row * L + col`` of every placeholder, in reading order
    (a host sync on an accelerator: the collator computes them on the CPU instead)."""
    return (input_ids.reshape(-1) == image_token_id).nonzero().flatten()


def splice_image_features(
    inputs_embeds: torch.Tensor,
    input_ids: torch.Tensor,
    image_features: torch.Tensor,
    image_token_id: int,
    positions: torch.Tensor | None = None,
) -> torch.Tensor:
    """Overwrite placeholder embeddings with image features, in reading order.

    ``inputs_embeds`` ``[B, L, D]``, ``input_ids`` ``[B, L]``, ``image_features`` ``[N, K, D]``
    -> ``[B, L, D]``. ``positions`` ``[N * K]``: the placeholders' flat indices
    (:func:`placeholder_positions`, precomputed by the collator); given, nothing waits on the
    device (only their count is checked), else they are found here and the batch must hold exactly
    ``N * K`` placeholders (``ValueError`` otherwise).
    """
    n_images, k = (image_features.shape[0], image_features.shape[1]) if image_features.numel() else (0, 0)
    if positions is None:
        positions = placeholder_positions(input_ids, image_token_id)
        what = f"input_ids hold {positions.numel()} placeholder tokens (id {image_token_id})"
    else:
        what = f"image_positions lists {positions.numel()} placeholder positions"
    if positions.numel() != n_images * k:
        tokens = f"{n_images} image(s) x {k} tokens = {n_images * k}" if n_images else "no images"
        raise ValueError(
            f"image placeholders and images disagree: {what} but pixel_values give {tokens}; "
            f"each image needs exactly one run of {k or 'num_image_tokens'} placeholders"
        )
    if positions.numel() == 0:
        return inputs_embeds
    flat = image_features.reshape(-1, image_features.shape[-1]).to(inputs_embeds.dtype)
    rows = inputs_embeds.reshape(-1, inputs_embeds.shape[-1]).index_copy(0, positions.to(flat.device), flat)
    return rows.view_as(inputs_embeds)


def mask_image_labels(labels: torch.Tensor, input_ids: torch.Tensor, image_token_id: int) -> torch.Tensor:
    """``labels`` with every image-placeholder position set to ``IGNORE_INDEX`` (``[B, L]``)."""
    return labels.masked_fill(input_ids == image_token_id, IGNORE_INDEX)


def segment_ids(position_ids: torch.Tensor) -> torch.Tensor:
    """Packed-sample index of each position: a new segment starts where ``position_ids == 0``.

    ``[B, L]`` -> ``[B, L]`` (0, 0, 0, 1, 1, 2, ...).
    """
    return (position_ids == 0).long().cumsum(dim=-1)


def is_packed(position_ids: torch.Tensor | None) -> bool:
    """True when some row holds more than one sample (a position id restarts at 0 after the start)."""
    return position_ids is not None and bool((position_ids[:, 1:] == 0).any())


def packed_attention_mask(
    position_ids: torch.Tensor, attention_mask: torch.Tensor | None, dtype: torch.dtype
) -> torch.Tensor:
    """Additive 4-D mask ``[B, 1, L, L]``: causal within each packed sample, blocked across samples
    and to padding. Padding rows attend to themselves so no row is all ``-inf`` (no NaNs)."""
    seg = segment_ids(position_ids)
    length = seg.shape[-1]
    causal = torch.ones(length, length, dtype=torch.bool, device=seg.device).tril()
    allowed = (seg.unsqueeze(-1) == seg.unsqueeze(-2)) & causal
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool().unsqueeze(-2)
    allowed = allowed | torch.eye(length, dtype=torch.bool, device=seg.device)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=seg.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask.unsqueeze(1)


def isolating_position_ids(position_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """``position_ids [B, L]`` from which each packed sample can be read alone, as transformers reads
    them without an ``attention_mask`` (a new sample wherever a position is not the previous one + 1):
    every padding run (``attention_mask == 0``) becomes a sample of its own counting from 0, so
    padding neither attends nor is attended across samples. Real tokens keep their positions.
    """
    if attention_mask is None:
        return position_ids
    pad = attention_mask == 0
    index = torch.arange(pad.shape[-1], device=pad.device).expand_as(pad)
    starts = pad & ~torch.nn.functional.pad(pad[:, :-1], (1, 0), value=False)
    run_start = torch.where(starts, index, torch.zeros_like(index)).cummax(dim=-1).values
    return torch.where(pad, index - run_start, position_ids)


def shift_targets(labels: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Next-token targets aligned with logits: ``[B, L]`` -> ``[B, L - 1]``.

    Position ``t`` predicts ``labels[t + 1]``; across a packed-sample boundary (``position_ids``
    restarting at 0) nothing is predicted, so a packed row scores exactly like its samples alone.
    """
    targets = labels[:, 1:]
    if position_ids is not None:
        targets = targets.masked_fill(position_ids[:, 1:] == 0, IGNORE_INDEX)
    return targets


def target_positions(targets: torch.Tensor) -> torch.Tensor:
    """``[K]``: the positions of ``targets [B, L - 1]`` (from :func:`shift_targets`) where some row
    has a target: the only logits a loss needs."""
    return (targets != IGNORE_INDEX).any(dim=0).nonzero().flatten()


LOSS_REDUCTIONS = ("token", "sample")


def causal_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    position_ids: torch.Tensor | None = None,
    positions: torch.Tensor | None = None,
    reduction: str = "token",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of ``logits [B, L, V]`` against ``labels [B, L]``; with ``positions [K]`` the
    logits are ``[B, K, V]``, taken at those positions only.

    ``reduction="token"``: the mean over every target token of the batch (VILA, LLaVA).
    ``reduction="sample"``: each sample's token mean, then the mean over samples (packed samples are
    told apart by ``position_ids``; without them each row is one sample), so a one-word answer
    weighs as much as a paragraph.

    Returns ``(loss, n_target_tokens)``; a batch with no targets gives a zero loss that still has a
    graph (so every rank can call backward).
    """
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f"loss reduction must be one of {LOSS_REDUCTIONS}, got {reduction!r}")
    targets = shift_targets(labels, position_ids)
    if positions is None:
        logits = logits[:, :-1]
    else:
        targets = targets[:, positions]
    flat_logits = logits.reshape(-1, logits.shape[-1]).float()
    flat_targets = targets.reshape(-1)
    valid = flat_targets != IGNORE_INDEX
    n = valid.sum()
    if reduction == "token":
        total = torch.nn.functional.cross_entropy(flat_logits, flat_targets, ignore_index=IGNORE_INDEX, reduction="sum")
        return total / n.clamp(min=1), n
    per_token = torch.nn.functional.cross_entropy(flat_logits, flat_targets, ignore_index=IGNORE_INDEX, reduction="none")
    sample = sample_index(labels, position_ids)
    sample = (sample if positions is None else sample[:, positions]).reshape(-1)
    slots = labels.shape[0] * (labels.shape[1] + 1)  # an upper bound on sample numbers (no host sync)
    sums = per_token.new_zeros(slots).index_add(0, sample, per_token)
    counts = per_token.new_zeros(slots).index_add(0, sample, valid.to(per_token.dtype))
    return (sums / counts.clamp(min=1)).sum() / (counts > 0).sum().clamp(min=1), n


def sample_index(labels: torch.Tensor, position_ids: torch.Tensor | None) -> torch.Tensor:
    """Batch-wide sample number of each next-token target (aligned with :func:`shift_targets`):
    ``[B, L]`` -> ``[B, L - 1]``, below ``B * (L + 1)``; samples are packed segments, or rows."""
    rows, length = labels.shape
    within = torch.zeros_like(labels) if position_ids is None else segment_ids(position_ids)
    return (within + torch.arange(rows, device=labels.device).unsqueeze(1) * (length + 1))[:, 1:]

