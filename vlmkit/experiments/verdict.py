"""The paper's direction of an effect, written as a chain over arm names, judged against scores.

``"mmc4_coyo >= mmc4 > coyo"``: each adjacent pair is one relation.

- ``a > b``: agrees when ``a - b > tol``, disagrees when ``b - a > tol``, else inconclusive (a tie);
- ``a >= b``: agrees when ``a >= b - tol``, else disagrees;
- ``a ~ b``: agrees when ``|a - b| <= tol``, else disagrees.

A chain agrees when every relation agrees and disagrees when any relation disagrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPLIT = re.compile(r"\s*(>=|>|~)\s*")
OPS = (">", ">=", "~")
AGREES, DISAGREES, INCONCLUSIVE = "agrees", "disagrees", "inconclusive"


@dataclass(frozen=True)
class Relation:
    left: str
    op: str
    right: str

    def judge(self, scores: dict[str, float], tol: float) -> str:
        diff = scores[self.left] - scores[self.right]
        if self.op == ">":
            return AGREES if diff > tol else DISAGREES if diff < -tol else INCONCLUSIVE
        if self.op == ">=":
            return AGREES if diff >= -tol else DISAGREES
        return AGREES if abs(diff) <= tol else DISAGREES


def parse_chain(text: str, arms: list[str]) -> list[Relation]:
    """``"a >= b > c"`` -> relations; every name must be one of ``arms``."""
    parts = _SPLIT.split(str(text).strip())
    names, ops = parts[0::2], parts[1::2]
    if len(names) < 2 or any(not n for n in names):
        raise ValueError(f"expected direction {text!r} must compare arms with >, >= or ~, e.g. 'a > b'")
    unknown = [n for n in names if n not in arms]
    if unknown:
        raise ValueError(f"expected direction {text!r} names {unknown}, which are not arms ({', '.join(arms)})")
    return [Relation(a, op, b) for a, op, b in zip(names, ops, names[1:])]


def judge_chain(relations: list[Relation], scores: dict[str, float], tol: float) -> str:
    """Overall verdict of a chain (see the module docstring)."""
    results = [r.judge(scores, tol) for r in relations]
    if DISAGREES in results:
        return DISAGREES
    return AGREES if all(r == AGREES for r in results) else INCONCLUSIVE
