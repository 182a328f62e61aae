"""Samples -> one batch dict per the batch contract of :mod:`vlmkit.model.splice`.

Input items come from :class:`vlmkit.data.loader.VLMStreamingDataset`: a tokenized sample
(``input_ids``, ``labels``, ``pixel_values [n, 3, H, W]``, ``join``) or ``{"skipped": reason}``
for a record that could not be read. Pairs whose dataset asks for ``pairs_per_sample = N`` are
joined N at a time (in order, within the batch) into one sample, as VILA does; then the samples
are packed into rows (best-fit) or put one per row, and padded to the longest row. The batch also
carries ``image_positions``, the placeholders' flat indices, found here on the CPU so the model's
splice never waits on the accelerator.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from vlmkit.data.packing import balanced_fit, one_per_row, position_ids
from vlmkit.data.tokenize import join_samples, truncate
from vlmkit.model.splice import IGNORE_INDEX, placeholder_positions

STATS_KEY = "data_stats"


def _long(ids) -> torch.Tensor:
    """A list of ints as a long tensor (through numpy: about 3x faster than ``torch.as_tensor``)."""
    return torch.from_numpy(np.asarray(ids, dtype=np.int64))


@dataclass
class BatchStats:
    """Records consumed by one batch (read or skipped) and the skip reasons."""

    samples: int = 0
    skipped: Counter = field(default_factory=Counter)
    rows: int = 0
    tokens: int = 0
    padded_tokens: int = 0


@dataclass
class VLMCollator:
    """``max_seq_len``: row length cap; ``pad_token_id``: id written in padding; ``image_size``:
    H = W of ``pixel_values`` (for an empty ``[0, 3, H, W]``); ``packing``: pack several samples
    per row (:func:`~vlmkit.data.packing.balanced_fit`); ``bos_ids``/``image_token_id``/
    ``num_image_tokens``: for joining and re-truncating pairs; ``pad_to_multiple_of``: round the
    row length up (tensor-core friendly)."""

    max_seq_len: int
    pad_token_id: int
    image_size: int
    image_token_id: int
    num_image_tokens: int
    packing: bool = True
    bos_ids: Sequence[int] = ()
    pad_to_multiple_of: int = 8

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        stats = BatchStats(samples=len(items))
        samples = []
        for item in items:
            if "skipped" in item:
                stats.skipped[item["skipped"]] += 1
            else:
                samples.append(item)
        samples = self._join_pairs(samples)
        lengths = [len(s["input_ids"]) for s in samples]
        rows = (balanced_fit if self.packing else one_per_row)(lengths, self.max_seq_len)
        batch = self._tensors(samples, rows)
        stats.rows, stats.tokens = len(rows), sum(lengths)
        stats.padded_tokens = batch["input_ids"].numel()
        batch[STATS_KEY] = stats
        return batch

    def _join_pairs(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Join consecutive samples of the same stream that ask for it, ``join = (stream, N)``."""
        out: list[dict[str, Any]] = []
        open_groups: dict[int, list[dict[str, Any]]] = {}
        for s in samples:
            stream, n = s.get("join", (None, 1))
            if n <= 1:
                out.append(s)
                continue
            group = open_groups.setdefault(stream, [])
            if not group:
                out.append(group)  # placeholder keeps the group's place in the batch
            group.append(s)
            if len(group) == n:
                open_groups.pop(stream)
        return [self._joined(s) if isinstance(s, list) else s for s in out]

    def _joined(self, group: list[dict[str, Any]]) -> dict[str, Any]:
        images = [s["pixel_values"] for s in group]
        joined = join_samples([{**s, "images": list(range(len(s["pixel_values"])))} for s in group], self.bos_ids)
        flat = torch.cat(images) if images else self._no_images()
        joined = truncate(
            {**joined, "images": list(range(flat.shape[0]))}, self.max_seq_len, self.image_token_id, self.num_image_tokens
        )
        return {"input_ids": joined["input_ids"], "labels": joined["labels"], "pixel_values": flat[: len(joined["images"])]}

    def _no_images(self) -> torch.Tensor:
        return torch.zeros(0, 3, self.image_size, self.image_size)

    def _tensors(self, samples: list[dict[str, Any]], rows: list[list[int]]) -> dict[str, Any]:
        longest = max((sum(len(samples[i]["input_ids"]) for i in row) for row in rows), default=1)
        rounded = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        length = max(longest, min(self.max_seq_len, rounded))
        shape = (len(rows), length)
        input_ids = torch.full(shape, self.pad_token_id, dtype=torch.long)
        labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros(shape, dtype=torch.long)
        positions = torch.zeros(shape, dtype=torch.long)
        images = []
        for r, row in enumerate(rows):
            at = 0
            for i in row:
                sample = samples[i]
                n = len(sample["input_ids"])
                input_ids[r, at : at + n] = _long(sample["input_ids"])
                labels[r, at : at + n] = _long(sample["labels"])
                images.append(sample["pixel_values"])
                at += n
            attention[r, :at] = 1
            positions[r] = position_ids([len(samples[i]["input_ids"]) for i in row], length)
        pixel_values = torch.cat(images) if images else self._no_images()
        return {
            "input_ids": input_ids,
            "labels": labels,
            "attention_mask": attention,
            "position_ids": positions,
            "pixel_values": pixel_values,
            "image_positions": placeholder_positions(input_ids, self.image_token_id),
        }
