"""In-context naming episodes over emoji: the shared layout of the ``fewshot_names`` evaluation
(held-out emoji, :data:`EVAL_NAMES`) and the embedded ``names`` training conversations (training
emoji, a fresh pronounceable nonsense word per concept from :func:`nonsense_word`, never one of
:data:`EVAL_NAMES`: a fixed list of training names is memorised instead of copied from context).

An episode gives ``ways`` emoji a fresh nonsense name each, shows each ``shots_per_way`` times
(on white, shifted by ``2 * shot`` pixels) as question/answer turns in shuffled order, then asks
the same question about another rendering of one of them (grey background, shifted): only
binding the names to the images in context answers it.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import Sequence

from vlmkit.data.embedded.emojis import Emoji, render_png

QUESTION = "What is this called?"
EVAL_NAMES = ("dax", "blicket", "wug", "toma", "fep", "zib", "kiki", "bouba", "gazzer", "modi", "tufa", "jop", "lorp", "mib", "nork", "pilk")
CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"
QUERY_SHADE, QUERY_SHIFT = 225, 5


def rendering(char: str, shade: int, shift: int):
    """The emoji ``char`` on a ``shade`` grey background, moved by ``shift`` pixels (a PIL image)."""
    from PIL import Image

    drawn = Image.open(io.BytesIO(render_png(char))).convert("RGB")
    out = Image.new("RGB", drawn.size, (shade,) * 3)
    out.paste(drawn, (shift, shift), drawn.convert("L").point(lambda v: 255 if v < 250 else 0))
    return out


@dataclass(frozen=True)
class Episode:
    """``shots``: ``(emoji, name, shift)`` in the order shown; the query is ``query`` named ``answer``."""

    names: tuple[str, ...]
    shots: tuple[tuple[Emoji, str, int], ...]
    query: Emoji
    answer: str


def nonsense_word(rng: random.Random) -> str:
    """A pronounceable nonsense word of 1-2 consonant-vowel syllables and a final consonant
    ("dax", "fomik"); never one of :data:`EVAL_NAMES`."""
    while True:
        syllables = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(rng.randint(1, 2)))
        word = syllables + rng.choice(CONSONANTS)
        if word not in EVAL_NAMES:
            return word


def episode(rng: random.Random, pool: Sequence[Emoji], names: Sequence[str] | None, ways: int, shots_per_way: int) -> Episode:
    """One seeded episode over ``pool`` with names drawn from ``names`` (None: fresh
    :func:`nonsense_word` names)."""
    limit = min(len(names), len(pool)) if names is not None else len(pool)
    if not 2 <= ways <= limit or shots_per_way < 1:
        raise ValueError(f"naming episodes need 2 <= ways <= {limit} and shots_per_way >= 1")
    concepts = rng.sample(list(pool), ways)
    chosen = rng.sample(list(names), ways) if names is not None else _distinct_words(rng, ways)
    shots = [(concepts[w], chosen[w], 2 * s) for w in range(ways) for s in range(shots_per_way)]
    rng.shuffle(shots)
    q = rng.randrange(ways)
    return Episode(tuple(chosen), tuple(shots), concepts[q], chosen[q])


def _distinct_words(rng: random.Random, n: int) -> list[str]:
    words: list[str] = []
    while len(words) < n:
        word = nonsense_word(rng)
        words += [word] if word not in words else []
    return words
