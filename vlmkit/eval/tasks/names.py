"""``fewshot_names``: an in-context learning probe whose answer exists only in the prompt.

Each episode shows ``ways`` held-out emoji, each given a fresh nonsense name ("This is a
blicket"), ``shots_per_way`` times, as image/question/answer turns; the query is another rendering
of one of them (shifted, on a grey background) with the same question. The names are drawn anew
per episode, so no amount of pre-training knowledge helps: only binding names to images in context
does (the "fast concept binding" test of Frozen, Tsimpoukelli et al. 2021). Chance is ``1/ways``
for a model that answers with one of the episode's names.
"""

from __future__ import annotations

import functools
import io
import random
from typing import Sequence

from vlmkit.eval.metrics import evalai_answer_processor
from vlmkit.eval.tasks.base import Example, Prediction, Task

NONSENSE = ("dax", "blicket", "wug", "toma", "fep", "zib", "kiki", "bouba", "gazzer", "modi", "tufa", "jop", "lorp", "mib", "nork", "pilk")
QUESTION = "What is this called?"


def rendering(char: str, shade: int, shift: int):
    """The emoji ``char`` on a ``shade`` grey background, moved by ``shift`` pixels (a PIL image)."""
    from PIL import Image

    from vlmkit.data.embedded.emojis import render_png

    drawn = Image.open(io.BytesIO(render_png(char))).convert("RGB")
    out = Image.new("RGB", drawn.size, (shade,) * 3)
    out.paste(drawn, (shift, shift), drawn.convert("L").point(lambda v: 255 if v < 250 else 0))
    return out


class NamesTask(Task):
    """Options: ``episodes`` (200), ``ways`` (2), ``shots_per_way`` (1), ``seed`` (0),
    ``heldout`` (true: emoji no embedded training set contains)."""

    name = "fewshot_names"
    known_options = ("episodes", "ways", "shots_per_way", "seed", "heldout")
    max_new_tokens = 8

    def examples(self) -> list[Example]:
        from vlmkit.data.embedded.emojis import split

        episodes, ways, per_way = int(self.option("episodes", 200)), int(self.option("ways", 2)), int(self.option("shots_per_way", 1))
        if not 2 <= ways <= len(NONSENSE) or per_way < 1 or episodes < 1:
            raise ValueError(f"fewshot_names: need 2 <= ways <= {len(NONSENSE)}, shots_per_way >= 1, episodes >= 1")
        pool = split(bool(self.option("heldout", True)))
        rng = random.Random(int(self.option("seed", 0)))
        return [self._episode(e, rng, pool, ways, per_way) for e in range(episodes)]

    @staticmethod
    def _episode(e: int, rng: random.Random, pool: Sequence, ways: int, per_way: int) -> Example:
        concepts, names = rng.sample(list(pool), ways), rng.sample(NONSENSE, ways)
        shots = [
            Example(f"{e}/{w}/{s}", QUESTION, [functools.partial(rendering, concepts[w].char, 255, 2 * s)], answer=names[w])
            for w in range(ways) for s in range(per_way)
        ]
        rng.shuffle(shots)
        q = rng.randrange(ways)
        query = [functools.partial(rendering, concepts[q].char, 225, 5)]
        return Example(str(e), QUESTION, query, names[q], names[q], meta={"names": names}, shots=shots)

    def parse(self, text: str, example: Example) -> str:
        words = evalai_answer_processor(text).split()
        return words[-1] if words else ""  # "this is a dax" -> "dax"

    def score_item(self, parsed: str, example: Example) -> float:
        return float(parsed == example.target)

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        if not predictions:
            return {}
        named = sum(p.parsed in p.example.meta["names"] for p in predictions)
        ways = len(predictions[0].example.meta["names"])
        return {**super().aggregate(predictions), "answered_a_shown_name": named / len(predictions), "chance": 1 / ways}
