"""Embedded tasks that run without downloads: easy-vqa test accuracy and held-out emoji captioning.

Both read the packaged assets through :mod:`vlmkit.data.embedded` (the same images and wording the
embedded training data uses), so prompts match what the default recipe trains on: easy-vqa
questions as the first user turn after the image; emoji captions in the pairs format
(``<image>\\n`` then the caption) unless ``style=chat``.
"""

from __future__ import annotations

from typing import Sequence

from vlmkit.eval.metrics import evalai_answer_processor
from vlmkit.eval.tasks.base import Example, Prediction, Task
from vlmkit.eval.tasks.caption import CAPTION_PROMPT, CaptionTask

STYLES = ("plain", "chat")


class EasyVQATask(Task):
    """easy-vqa (``split``: test by default; shots come from train): one question per example,
    exact match of the EvalAI-normalised one-word reply; accuracy overall and per question type
    (color, shape, yes/no)."""

    name = "easy_vqa"
    known_options = ("split",)
    max_new_tokens = 8

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

    def score_item(self, parsed: str, example: Example) -> float:
        return float(parsed == example.target)

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        out = super().aggregate(predictions)
        by_type: dict[str, list[float]] = {}
        for p in predictions:
            by_type.setdefault(p.example.meta["type"], []).append(p.score or 0.0)
        out.update({f"{t}/accuracy": sum(s) / len(s) for t, s in sorted(by_type.items())})
        return out


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
