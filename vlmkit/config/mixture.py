"""Mixture specs: ``{dataset: proportion}`` or VILA's grammar ``"a+b*2"``, to normalised proportions."""

from __future__ import annotations

import re
from typing import Mapping

_TERM = re.compile(r"^\s*([A-Za-z0-9_.\-/]+)\s*(?:\*\s*(\d+(?:\.\d+)?))?\s*$")


def parse_mixture(spec: Mapping[str, float] | str, datasets: Mapping[str, object] | None = None) -> dict[str, float]:
    """Normalised proportions of each dataset, in the order given.

    ``"mmc4+coyo*2"`` -> ``{"mmc4": 1/3, "coyo": 2/3}``: ``name*N`` repeats a dataset N times,
    ``a+b`` concatenates; a bare ``name`` counts its ``datasets[name].weight`` times (default 1).
    A mapping must already be proportions (validated by the recipe).
    """
    if not isinstance(spec, str):
        total = sum(spec.values())
        return {k: float(v) / total for k, v in spec.items()}
    weights: dict[str, float] = {}
    for term in spec.split("+"):
        m = _TERM.match(term)
        if m is None:
            raise ValueError(f"bad mixture term {term!r} in {spec!r}: expected 'name' or 'name*N' joined by '+'")
        name = m.group(1)
        times = float(m.group(2)) if m.group(2) else float(getattr((datasets or {}).get(name), "weight", 1.0))
        if times <= 0:
            raise ValueError(f"bad mixture term {term!r}: the repeat count must be positive")
        weights[name] = weights.get(name, 0.0) + times
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}
