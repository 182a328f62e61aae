"""In-context naming episodes over emoji: the shared layout of the ``fewshot_names`` evaluation
(held-out emoji, :data:`EVAL_NAMES`) and the embedded ``names`` training conversations (training
emoji, the disjoint :data:`TRAIN_NAMES`).

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
TRAIN_NAMES = ("zorp", "fendle", "quib", "snarp", "vosk", "meeb", "tarn", "glim", "prusk", "wibble", "drax", "yomp", "clud", "hesk", "bimble", "norf")
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


def episode(rng: random.Random, pool: Sequence[Emoji], names: Sequence[str], ways: int, shots_per_way: int) -> Episode:
    """One seeded episode over ``pool`` with names drawn from ``names``."""
    if not 2 <= ways <= min(len(names), len(pool)) or shots_per_way < 1:
        raise ValueError(f"naming episodes need 2 <= ways <= {min(len(names), len(pool))} and shots_per_way >= 1")
    concepts, chosen = rng.sample(list(pool), ways), rng.sample(list(names), ways)
    shots = [(concepts[w], chosen[w], 2 * s) for w in range(ways) for s in range(shots_per_way)]
    rng.shuffle(shots)
    q = rng.randrange(ways)
    return Episode(tuple(chosen), tuple(shots), concepts[q], chosen[q])
