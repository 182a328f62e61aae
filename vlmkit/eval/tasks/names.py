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
import random
from typing import Sequence

from vlmkit.data.embedded.naming import EVAL_NAMES, QUERY_SHADE, QUERY_SHIFT, QUESTION, episode, rendering
from vlmkit.eval.metrics import evalai_answer_processor
from vlmkit.eval.tasks.base import Example, Prediction, Task


class NamesTask(Task):
    """Options: ``episodes`` (200), ``ways`` (2), ``shots_per_way`` (1), ``seed`` (0),
    ``heldout`` (true: emoji no embedded training set contains)."""

    name = "fewshot_names"
    known_options = ("episodes", "ways", "shots_per_way", "seed", "heldout")
    max_new_tokens = 8

    def examples(self) -> list[Example]:
        from vlmkit.data.embedded.emojis import split

        episodes, ways, per_way = int(self.option("episodes", 200)), int(self.option("ways", 2)), int(self.option("shots_per_way", 1))
        if episodes < 1:
            raise ValueError(f"fewshot_names: episodes must be >= 1, got {episodes}")
        pool = split(bool(self.option("heldout", True)))
        rng = random.Random(int(self.option("seed", 0)))
        try:
            drawn = [episode(rng, pool, EVAL_NAMES, ways, per_way) for _ in range(episodes)]
        except ValueError as exc:
            raise ValueError(f"fewshot_names: {exc}") from None
        return [
            Example(
                str(e), QUESTION, [functools.partial(rendering, ep.query.char, QUERY_SHADE, QUERY_SHIFT)], ep.answer, ep.answer,
                meta={"names": list(ep.names)},
                shots=[Example(f"{e}/{i}", QUESTION, [functools.partial(rendering, emo.char, 255, shift)], answer=name)
                       for i, (emo, name, shift) in enumerate(ep.shots)],
            )
            for e, ep in enumerate(drawn)
        ]

    def parse(self, text: str, example: Example) -> str:
        words = evalai_answer_processor(text).split()
        return words[-1] if words else ""  # "this is a dax" -> "dax"

    def score_item(self, parsed: str, example: Example) -> float:
        return float(parsed == example.target)

    def baselines(self, examples: Sequence[Example]) -> dict[str, dict[str, float]]:
        """``chance``: a uniform guess among the episode's shown names (no prior exists: the names
        are fresh in every episode, so the blind baseline is chance too)."""
        if not examples:
            return {}
        chance = {self.metric: sum(1 / len(ex.meta["names"]) for ex in examples) / len(examples)}
        return {"chance": chance, "blind": dict(chance)}

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        if not predictions:
            return {}
        named = sum(p.parsed in p.example.meta["names"] for p in predictions)
        ways = len(predictions[0].example.meta["names"])
        return {**super().aggregate(predictions), "answered_a_shown_name": named / len(predictions), "chance": 1 / ways}
