"""Synthetic VLM batches (no files): for benchmarks, tests and smoke runs of the trainer.

Each row packs ``samples_per_row`` samples; a sample is ``images_per_sample`` image runs followed
by text that counts upward from a random start (``a, a+1, a+2, ...`` in a small alphabet), so a
model can learn it and the loss falls. Rows follow the batch contract of :mod:`vlmkit.model.splice`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from vlmkit.model.splice import IGNORE_INDEX

ALPHABET = 16


class SyntheticVLMDataset(Dataset):
    """``num_rows`` rows of ``seq_len`` tokens, each a dict of ``input_ids``, ``labels``,
    ``attention_mask``, ``position_ids`` ``[L]`` and ``pixel_values [n, 3, S, S]``."""

    def __init__(
        self,
        image_token_id: int,
        tokens_per_image: int,
        image_size: int,
        seq_len: int = 64,
        num_rows: int = 256,
        images_per_sample: int = 1,
        samples_per_row: int = 2,
        token_offset: int = 32,
        seed: int = 0,
    ) -> None:
        self.image_token_id, self.k, self.size = image_token_id, tokens_per_image, image_size
        self.seq_len, self.num_rows = seq_len, num_rows
        self.images, self.samples = images_per_sample, samples_per_row
        self.offset, self.seed = token_offset, seed
        sample_len = seq_len // samples_per_row
        if sample_len <= images_per_sample * tokens_per_image + 2:
            raise ValueError(
                f"seq_len {seq_len} is too short for {samples_per_row} samples of {images_per_sample} image(s) "
                f"x {tokens_per_image} tokens; raise seq_len"
            )

    def __len__(self) -> int:
        return self.num_rows

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        sample_len = self.seq_len // self.samples
        ids, pos, labels = [], [], []
        for _ in range(self.samples):
            text_len = sample_len - self.images * self.k
            start = int(torch.randint(0, ALPHABET, (1,), generator=g))
            text = [self.offset + (start + i) % ALPHABET for i in range(text_len)]
            run = [self.image_token_id] * (self.images * self.k)
            ids += run + text
            labels += [IGNORE_INDEX] * len(run) + text
            pos += list(range(sample_len))
        pad = self.seq_len - len(ids)
        return {
            "input_ids": torch.tensor(ids + [0] * pad),
            "labels": torch.tensor(labels + [IGNORE_INDEX] * pad),
            "attention_mask": torch.tensor([1] * len(ids) + [0] * pad),
            "position_ids": torch.tensor(pos + list(range(pad))),
            "pixel_values": torch.randn(self.images * self.samples, 3, self.size, self.size, generator=g),
        }


def collate(rows: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
    """Stack row tensors to ``[B, L]``; concatenate images to ``[N, 3, S, S]`` in reading order."""
    out = {k: torch.stack([r[k] for r in rows]) for k in rows[0] if k != "pixel_values"}
    out["pixel_values"] = torch.cat([r["pixel_values"] for r in rows])
    return out


def synthetic_dataset(model, **options) -> SyntheticVLMDataset:
    return SyntheticVLMDataset(model.image_token_id, model.num_image_tokens, model.image_transform.size, **options)


def synthetic_loader(model, batch_size: int, shuffle_seed: int = 0, **options) -> DataLoader:
    """A DataLoader over :class:`SyntheticVLMDataset` that splits rows over processes (Composer's
    distributed sampler), so ``N`` processes together see what one process sees."""
    from composer.utils import dist

    dataset = synthetic_dataset(model, **options)
    sampler = dist.get_sampler(dataset, shuffle=True, seed=shuffle_seed, drop_last=True)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate, drop_last=True)


def synthetic_factory(**options):
    """A ``dataloader_factory`` for :func:`vlmkit.train.stages.run_recipe` with synthetic data."""

    def factory(recipe, stage: str, model, batch_size: int) -> DataLoader:
        return synthetic_loader(model, batch_size, shuffle_seed=recipe.data.shuffle_seed,
                                seq_len=recipe.stage_max_seq_len(stage), **options)

    return factory
