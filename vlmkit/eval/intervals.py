"""95% confidence intervals of task scores: a percentile bootstrap over evaluation items.

A score that is a mean of per-item scores (accuracy, VQA soft accuracy, per-item CIDEr-D) gets an
interval from resampling the items with replacement; scores that are not such means (e.g. a rate
of "answered a shown name") get none.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vlmkit.eval.tasks.base import Prediction, Task

LEVEL = 0.95


def bootstrap_interval(values: Sequence[float], level: float = LEVEL, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """``(low, high)`` percentile-bootstrap interval of the mean of ``values`` (``n >= 1``)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def score_intervals(task: Task, predictions: Sequence[Prediction], scores: dict[str, float], seed: int = 0) -> dict[str, list[float]]:
    """``{score name: [low, high]}`` for every score of ``scores`` that :meth:`Task.item_values`
    gives the per-item values of (and whose mean it is)."""
    out = {}
    for name, items in task.item_values(predictions).items():
        values = list(items.values())
        if name in scores and values and np.isclose(np.mean(values), scores[name]):
            out[name] = list(bootstrap_interval(values, seed=seed))
    return out


def paired_difference_interval(a: dict, b: dict, level: float = LEVEL, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float, int]:
    """``(mean, low, high, n)`` of ``a[i] - b[i]`` over the items both score (``{item id: value}``):
    a paired bootstrap, so two models evaluated on the same items are compared item by item."""
    common = sorted(set(a) & set(b), key=str)
    if not common:
        raise ValueError("paired_difference_interval: the two evaluations share no items")
    diff = [a[i] - b[i] for i in common]
    low, high = bootstrap_interval(diff, level, resamples, seed)
    return float(np.mean(diff)), low, high, len(common)
