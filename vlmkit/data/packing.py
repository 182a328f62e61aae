"""Bin packing of tokenized samples into ``max_seq_len`` rows (best-fit decreasing).

Packed samples never see each other: each restarts its ``position_ids`` at 0, and the VLM builds
a block-diagonal causal mask from them (:func:`vlmkit.model.splice.packed_attention_mask`).
"""

from __future__ import annotations

import bisect
from typing import Sequence

import torch


def best_fit(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Group sample indices into bins whose lengths sum to at most ``capacity``.

    Best-fit decreasing: longest first, each into the fullest bin that still has room. Returns
    bins in order of their first sample, each listing its samples in input order (deterministic).
    Raises ``ValueError`` for a length above ``capacity`` (truncate first).
    """
    too_long = [n for n in lengths if n > capacity]
    if too_long:
        raise ValueError(f"a sample of {max(too_long)} tokens does not fit max_seq_len {capacity}; truncate it first")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    free: list[tuple[int, int]] = []  # (room left, bin id), sorted
    bins: list[list[int]] = []
    for i in order:
        at = bisect.bisect_left(free, (lengths[i], -1))
        if at == len(free):
            bins.append([i])
            room, b = capacity - lengths[i], len(bins) - 1
        else:
            room, b = free.pop(at)
            bins[b].append(i)
            room -= lengths[i]
        bisect.insort(free, (room, b))
    packed = [sorted(b) for b in bins]
    return sorted(packed, key=lambda b: b[0])


def balanced_fit(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """:func:`best_fit` into as few rows, but with the longest row as short as the search finds.

    Rows are padded to the longest one, so a batch of 650 tokens best-fit into rows of 256, 256 and
    138 pads to 768 positions. Keeping best-fit's row count, the smallest capacity that still
    needs no more rows is found by bisection (e.g. rows of ~217, ~3% padding). Same contract as
    :func:`best_fit`; never more rows and never a longer longest row than ``best_fit(lengths, capacity)``.
    """
    packed = best_fit(lengths, capacity)
    if len(packed) < 2:
        return packed
    longest = lambda bins: max(sum(lengths[i] for i in b) for b in bins)  # noqa: E731
    low, high = max(max(lengths), -(-sum(lengths) // len(packed))), longest(packed)
    best = packed
    while low < high:  # best-fit is not monotone in capacity, so keep the best layout seen
        middle = (low + high) // 2
        trial = best_fit(lengths, middle)
        if len(trial) <= len(packed):
            best, high = trial, longest(trial)
        else:
            low = middle + 1
    return best


def one_per_row(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """No packing: every sample in its own row (the same interface as :func:`best_fit`)."""
    return [[i] for i in range(len(lengths))]


def position_ids(lengths: Sequence[int], total: int) -> torch.Tensor:
    """``[total]`` positions restarting at 0 for each sample; padding after the samples continues
    the last sample's count (so an unpacked padded row never looks packed)."""
    parts = [torch.arange(n) for n in lengths]
    used, last = sum(lengths), (lengths[-1] if lengths else 0)
    parts.append(torch.arange(last, last + total - used))
    return torch.cat(parts)


def non_padding_fraction(lengths: Sequence[int], rows: int, row_length: int) -> float:
    """Fraction of the ``rows x row_length`` positions that hold real tokens."""
    return sum(lengths) / max(1, rows * row_length)
