"""Choosing in-context shots from a support split: at random, or by image similarity (RICES).

Both are seeded and depend only on ``(seed, query index)``, so a run is reproducible whatever the
batching. Shots never include the query itself (same id), and when examples carry
``meta["shot_group"]`` (e.g. MMLU's subject) shots come from the query's group.

RICES (Retrieval-based In-Context Example Selection, as in OpenFlamingo): support and query
images are embedded by the model's own vision encoder (tokens mean-pooled, L2-normalised); the
``k`` most cosine-similar support examples are used, the most similar placed last, next to the
query.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Callable, Sequence

import torch

from vlmkit.eval.images import source_key
from vlmkit.eval.tasks.base import Example


Embedder = Callable[[Sequence[Example]], torch.Tensor]


def candidates(support: Sequence[Example], example: Example) -> list[int]:
    group = example.meta.get("shot_group")
    return [
        i for i, s in enumerate(support)
        if s.id != example.id and (group is None or s.meta.get("shot_group") == group)
    ]


class ShotSelector(ABC):
    """Picks ``k`` shots for the query at position ``index``; ``embed`` is used by selectors that
    compare images (ignored by the others)."""

    def __init__(self, support: Sequence[Example], k: int, seed: int = 0, *, embed: Embedder | None = None) -> None:
        if k < 0:
            raise ValueError(f"the number of shots must be >= 0, got {k}")
        if k and not support:
            raise ValueError("few-shot evaluation needs a non-empty support split")
        self.support = list(support)
        self.k = k
        self.seed = seed

    def select(self, index: int, example: Example) -> list[Example]:
        pool = candidates(self.support, example)
        if len(pool) < self.k:
            raise ValueError(f"only {len(pool)} support example(s) can serve as shots for {example.id!r}; {self.k} requested")
        return [self.support[i] for i in self._pick(index, example, pool)] if self.k else []

    @abstractmethod
    def _pick(self, index: int, example: Example, pool: list[int]) -> list[int]:
        """``k`` indices into ``support`` from ``pool``, in prompt order."""


class RandomShots(ShotSelector):
    """``k`` distinct shots drawn uniformly, seeded per query."""

    def _pick(self, index: int, example: Example, pool: list[int]) -> list[int]:
        return random.Random(f"{self.seed}:{index}").sample(pool, self.k)


class RicesShots(ShotSelector):
    """The ``k`` support examples whose image embedding is closest to the query's."""

    def __init__(self, support: Sequence[Example], k: int, seed: int = 0, *, embed: Embedder | None = None) -> None:
        super().__init__(support, k, seed)
        if embed is None:
            raise ValueError("RICES shot selection needs an image embedder (the model's vision encoder)")
        if any(not s.images for s in self.support):
            raise ValueError("RICES needs an image in every support example; use shot_method='random' for text tasks")
        self.embed = embed
        self.features = embed(self.support) if k else None

    def _pick(self, index: int, example: Example, pool: list[int]) -> list[int]:
        if not example.images:
            raise ValueError(f"RICES needs an image in the query {example.id!r}")
        query = self.embed([example])[0]
        sims = self.features[pool] @ query
        # stable tie-break by support order; most similar last
        order = sorted(range(len(pool)), key=lambda j: (-float(sims[j]), pool[j]))[: self.k]
        return [pool[j] for j in reversed(order)]


SHOT_METHODS: dict[str, type[ShotSelector]] = {"random": RandomShots, "rices": RicesShots}


def image_embedder(model, to_tensor: Callable[[object], torch.Tensor], batch_size: int = 32) -> Embedder:
    """An :data:`Embedder` from ``model``'s vision encoder: each example's images encoded,
    tokens and images mean-pooled, L2-normalised -> ``[N, D]``. ``to_tensor`` opens and
    transforms one image source."""

    @torch.no_grad()
    def embed(examples: Sequence[Example]) -> torch.Tensor:
        device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
        unique: dict = {}  # each distinct image encoded once (many questions share an image)
        for e in examples:
            for src in e.images:
                unique.setdefault(source_key(src), src)
        keys = list(unique)
        feats = []
        for start in range(0, len(keys), batch_size):
            pixels = torch.stack([to_tensor(unique[k]) for k in keys[start : start + batch_size]]).to(device=device, dtype=dtype)
            feats.append(model.vision_encoder(pixels).float().mean(dim=1).cpu())
        table = dict(zip(keys, torch.cat(feats)))
        pooled = torch.stack([
            torch.stack([table[source_key(s)] for s in e.images]).mean(0) for e in examples
        ])
        return torch.nn.functional.normalize(pooled, dim=-1)

    return embed


def build_selector(method: str, support: Sequence[Example], k: int, seed: int = 0, *, embed: Embedder | None = None) -> ShotSelector:
    """The selector registered as ``method`` (``random`` or ``rices``)."""
    cls = SHOT_METHODS.get(method)
    if cls is None:
        raise ValueError(f"unknown shot selection {method!r}; use one of: {', '.join(SHOT_METHODS)}")
    return cls(support, k, seed, embed=embed)
