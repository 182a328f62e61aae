"""Joining tokenized samples into one (VILA concatenates several image-caption pairs per sample)."""

from __future__ import annotations

from typing import Any, Sequence


def join_samples(samples: Sequence[dict[str, Any]], bos_ids: Sequence[int] = ()) -> dict[str, Any]:
    """One sample made of ``samples`` in order; each one after the first loses its leading
    ``bos_ids`` so the joined sample starts with a single BOS. Images follow in order."""
    n = len(bos_ids)
    ids: list[int] = []
    labels: list[int] = []
    images: list[Any] = []
    for i, s in enumerate(samples):
        skip = n if i and n and list(s["input_ids"][:n]) == list(bos_ids) else 0
        ids.extend(s["input_ids"][skip:])
        labels.extend(s["labels"][skip:])
        images.extend(s["images"])
    return {"input_ids": ids, "labels": labels, "images": images}
