"""Log-likelihood of continuations after a prompt (MMLU-style multiple choice)."""

from __future__ import annotations

from typing import Sequence

import torch


@torch.no_grad()
def continuation_logprobs(
    model, prompt: Sequence[int], continuations: Sequence[Sequence[int]], images: Sequence[torch.Tensor] = ()
) -> list[float]:
    """Sum of token log-probabilities of each continuation after ``prompt`` (one forward pass,
    one row per continuation, right-padded). ``images``: the prompt's ``[3, H, W]`` tensors."""
    if not continuations or any(len(c) == 0 for c in continuations):
        raise ValueError("every option needs at least one token")
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    rows = [list(prompt) + list(c) for c in continuations]
    length = max(len(r) for r in rows)
    pad = model.tokenizer.pad_token_id or 0
    ids = torch.full((len(rows), length), pad, dtype=torch.long, device=device)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, device=device)
        mask[i, : len(r)] = 1
    pixels = torch.stack([im for _ in rows for im in images]).to(device=device, dtype=dtype) if len(images) else None
    logprobs = model(input_ids=ids, pixel_values=pixels, attention_mask=mask).logits.float().log_softmax(-1)
    out = []
    for i, c in enumerate(continuations):
        start = len(prompt)
        targets = torch.tensor(list(c), device=device)
        out.append(float(logprobs[i, start - 1 : start - 1 + len(c)].gather(-1, targets[:, None]).sum()))
    return out
