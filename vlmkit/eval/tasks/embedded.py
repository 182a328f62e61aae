"""Embedded tasks that run without downloads: easy-vqa test accuracy, held-out emoji captioning
and held-out text-only instructions.

They read the packaged assets through :mod:`vlmkit.data.embedded` (the same images and wording the
embedded training data uses), so prompts match what the default recipe trains on: easy-vqa
questions as the first user turn after the image; emoji captions in the pairs format
(``<image>\\n`` then the caption) unless ``style=chat``; text questions as the embedded text data
asks them.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from vlmkit.eval.metrics import evalai_answer_processor
from vlmkit.eval.scoring import score_replies
from vlmkit.eval.tasks.base import Example, Prediction, Task
from vlmkit.eval.tasks.caption import CAPTION_PROMPT, CaptionTask

STYLES = ("plain", "chat")


class ExactMatchTask(Task):
    """Scores a parsed reply 1 when it equals ``example.target``; accuracy overall and per
    ``example.meta["type"]`` (``"<type>/accuracy"``)."""

    def score_item(self, parsed: str, example: Example) -> float:
        return float(parsed == example.target)

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        return {name: sum(v.values()) / len(v) for name, v in self.item_values(predictions).items() if v}

    def item_values(self, predictions: Sequence[Prediction]) -> dict[str, dict]:
        by_type: dict[str, dict] = {}
        for p in predictions:
            by_type.setdefault(f"{p.example.meta['type']}/accuracy", {})[p.example.id] = p.score or 0.0
        return {**super().item_values(predictions), **dict(sorted(by_type.items()))}


class EasyVQATask(ExactMatchTask):
    """easy-vqa (``split``: test by default; shots come from train): one question per example,
    exact match of the EvalAI-normalised one-word reply; accuracy overall and per question type
    (color, shape, yes/no)."""

    name = "easy_vqa"
    known_options = ("split",)
    max_new_tokens = 4  # every answer is one word of at most 3 SmolLM2 tokens even as "Rectangle.", then the end token

    def examples(self) -> list[Example]:
        from vlmkit.data.embedded.easyvqa import load_split

        split = self.option("split", "test")
        out = []
        for image in load_split(split):
            for i, q in enumerate(image.questions):
                meta = {"type": q.type}
                out.append(Example(f"{split}/{image.image_id}/{i}", q.text, [str(image.path)], q.answer, q.answer, meta=meta))
        return out

    def support(self) -> list[Example]:
        if self.support_options is None:
            self.support_options = {"split": "train"}
        return super().support()

    def parse(self, text: str, example: Example) -> str:
        return evalai_answer_processor(text)

    def baselines(self, examples: Sequence[Example]) -> dict[str, dict[str, float]]:
        """``chance``: a uniform guess among the training answers of the question's type;
        ``blind``: the most frequent training answer to the same question text (else to its type),
        never looking at the image."""
        train = EasyVQATask(split="train").examples()
        by_question: dict[str, Counter] = {}
        by_type: dict[str, Counter] = {}
        for ex in train:
            by_question.setdefault(ex.prompt.lower(), Counter())[ex.target] += 1
            by_type.setdefault(ex.meta["type"], Counter())[ex.target] += 1

        def blind(ex: Example) -> str:
            prior = by_question.get(ex.prompt.lower()) or by_type.get(ex.meta["type"]) or Counter({"": 1})
            return prior.most_common(1)[0][0]

        guessed = [Prediction(ex, "", None, 1 / len(by_type[ex.meta["type"]]) if ex.meta["type"] in by_type else 0.0)
                   for ex in examples]
        return {"chance": self.aggregate(guessed), "blind": score_replies(self, examples, [blind(ex) for ex in examples])[1]}


class EmojiCaptionTask(CaptionTask):
    """Captioning of the held-out emoji (never in any embedded training set), scored by CIDEr-D
    against ``"an emoji of {name}"``. ``style``: ``plain`` (default: ``<image>\\n`` and the model
    continues, as the pairs data trains it) or ``chat`` (the caption prompt as a user turn);
    ``heldout=false`` uses the training emoji instead (a sanity check)."""

    name = "emoji_caption"
    known_options = ("style", "heldout", "prompt")
    max_new_tokens = 24

    def __init__(self, support=None, **options) -> None:
        super().__init__(support, **options)
        style = self.option("style", "plain")
        if style not in STYLES:
            raise ValueError(f"emoji_caption: style must be one of {', '.join(STYLES)}, got {style!r}")
        self.chat = style == "chat"

    def examples(self) -> list[Example]:
        import functools

        from vlmkit.data.embedded.emojis import render_png, split

        prompt = self.option("prompt", CAPTION_PROMPT if self.chat else "")
        heldout = bool(self.option("heldout", True))
        return [Example(e.name, prompt, [functools.partial(render_png, e.char)], [e.caption()], e.caption()) for e in split(heldout)]

    def support(self) -> list[Example]:
        if self.support_options is None:
            self.support_options = {"heldout": False}
        return super().support()


def _normalised(text: str) -> str:
    return text.strip().rstrip(".").strip()


class EmbeddedTextTask(ExactMatchTask):
    """Text-only instructions of the embedded text data's six families (arithmetic, reversing,
    counting letters, sorting, capitals, first letter), generated with ``seed`` (default 1;
    training uses 0) minus every question the default training set contains; ``per_family``
    questions per family (default 20). Exact match after stripping spaces and a final period;
    accuracy overall and per family. It measures the text ability that VILA's text-only blending
    protects, on held-out items of the trained families (not general knowledge, as MMLU does)."""

    name = "embedded_text"
    known_options = ("seed", "per_family")
    max_new_tokens = 24

    def examples(self) -> list[Example]:
        from vlmkit.data.embedded import textgen
        from vlmkit.data.embedded.sets import SCALES

        seed, per_family = int(self.option("seed", 1)), int(self.option("per_family", 20))
        if seed == 0 or per_family < 1:
            raise ValueError(f"embedded_text: seed must not be 0 (the training seed) and per_family at least 1; got seed={seed}, per_family={per_family}")
        trained = {q for _, q, _ in textgen.items(SCALES["default"].text, 0)}
        counts: dict[str, int] = {}
        out = []
        for family, question, answer in textgen.items(20 * per_family * len(textgen.TASKS), seed):
            if question in trained or counts.get(family, 0) >= per_family:
                continue
            counts[family] = counts.get(family, 0) + 1
            out.append(Example(f"{family}/{counts[family]}", question, [], _normalised(answer), answer, meta={"type": family}))
        return out

    def parse(self, text: str, example: Example) -> str:
        return _normalised(text)
