"""CIDEr-D as pycocoevalcap computes it (``Cider().compute_score``), in pure Python, no Java.

Reproduces ``pycocoevalcap/cider/cider_scorer.py`` (tylin/coco-caption, with the Python 3
package's guard against zero norms): n-grams 1-4 of whitespace-split tokens; document frequencies
from the references only; idf ``log(#items) - log(max(1, df))``; per reference the clipped cosine
``sum min(h, r) * r / (|h| |r|)`` per n, times a Gaussian length penalty ``exp(-d^2 / 2 sigma^2)``
(sigma 6) where the "length" is, as in the reference, the number of *bigrams*; mean over n, mean
over references, times 10. Inputs are expected already tokenized (the reference runs the Stanford
PTB tokenizer first); :func:`coco_tokenize` is a close stand-in for that step.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

_N = 4
_SIGMA = 6.0
# The tokens pycocoevalcap's PTBTokenizer drops after tokenizing (brackets are -LRB- etc. there).
_PTB_PUNCTUATION = frozenset({"''", "'", "``", "`", "(", ")", "{", "}", ".", "?", "!", ",", ":", "-", "--", "...", ";"})
_TOKEN = re.compile(r"\w+(?:[-']\w+)*|'s\b|n't\b|\.\.\.|--|[^\w\s]")


def coco_tokenize(text: str) -> str:
    """Lowercase, split words from punctuation the way PTB does for captions, drop punctuation.

    An approximation of pycocoevalcap's ``PTBTokenizer`` (``-lowerCase``, then the punctuation
    list removed) that agrees on ordinary captions: ``"A man's hat."`` -> ``"a man 's hat"``.
    """
    text = text.lower().replace("\n", " ")
    text = re.sub(r"(\w)('s|n't)\b", r"\1 \2", text)
    return " ".join(t for t in _TOKEN.findall(text) if t not in _PTB_PUNCTUATION)


def _ngrams(sentence: str) -> Counter:
    words = sentence.split()
    return Counter(tuple(words[i : i + k]) for k in range(1, _N + 1) for i in range(len(words) - k + 1))


def _tfidf(counts: Counter, df: Counter, log_items: float) -> tuple[list[dict], list[float], int]:
    """Per n: n-gram -> tf*idf, the vector norms, and the bigram count the length penalty uses."""
    vec: list[dict] = [{} for _ in range(_N)]
    norm = [0.0] * _N
    bigrams = 0
    for gram, tf in counts.items():
        n = len(gram) - 1
        weight = tf * (log_items - math.log(max(1.0, df[gram])))
        vec[n][gram] = weight
        norm[n] += weight * weight
        if n == 1:
            bigrams += tf
    return vec, [math.sqrt(x) for x in norm], bigrams


def _similarity(hyp: tuple, ref: tuple) -> float:
    """Mean over n of the clipped, length-penalised cosine between hypothesis and one reference."""
    (vh, nh, lh), (vr, nr, lr) = hyp, ref
    penalty = math.exp(-((lh - lr) ** 2) / (2 * _SIGMA**2))
    total = 0.0
    for n in range(_N):
        dot = sum(min(w, vr[n].get(g, 0.0)) * vr[n].get(g, 0.0) for g, w in vh[n].items())
        if nh[n] != 0 and nr[n] != 0:
            dot /= nh[n] * nr[n]
        total += dot * penalty
    return total / _N


def cider(references: Sequence[Sequence[str]], predictions: Sequence[str]) -> tuple[float, list[float]]:
    """CIDEr-D of ``predictions[i]`` against ``references[i]`` (several tokenized captions each).

    Returns ``(corpus score, per-item scores)``; the corpus score is the mean of the items. The
    idf comes from these references, so scores depend on the whole set, as in pycocoevalcap.
    """
    if len(references) != len(predictions):
        raise ValueError(f"CIDEr needs one prediction per item: got {len(predictions)} predictions for {len(references)} reference sets")
    if not references:
        raise ValueError("CIDEr needs at least one item")
    if any(len(refs) == 0 for refs in references):
        raise ValueError("every item needs at least one reference caption")
    ref_counts = [[_ngrams(r) for r in refs] for refs in references]
    df: Counter = Counter()
    for counts in ref_counts:
        df.update(set().union(*(c.keys() for c in counts)))
    log_items = math.log(float(len(references)))
    scores = []
    for pred, counts in zip(predictions, ref_counts):
        hyp = _tfidf(_ngrams(pred), df, log_items)
        refs = [_tfidf(c, df, log_items) for c in counts]
        scores.append(10.0 * sum(_similarity(hyp, r) for r in refs) / len(refs))
    return sum(scores) / len(scores), scores
