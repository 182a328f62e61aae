"""easy-vqa (shipped in the ``easy-vqa`` package): 64x64 images of one coloured shape, with
yes/no, colour and shape questions. Train: 4,000 images / 38,575 questions; test: 1,000 / 9,673.

Each image's colour and shape are inferred from its own questions (a "what" answer, or a yes/no
answer about a named colour or shape), so captions are true by construction; when a question set
does not pin one down the caption leaves it out ("a red shape", "a circle").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from vlmkit.data.images import prepare_image
from vlmkit.data.schema import IMAGE_MARKER

COLORS = ("red", "green", "blue", "yellow", "teal", "brown", "gray", "black")
SHAPES = ("circle", "rectangle", "triangle")
SPLITS = ("train", "test")
VQA_PROMPT = IMAGE_MARKER + "\n{question}"  # first user turn of every easy-vqa conversation; answers are one word
_NEGATIONS = {"not", "no"}


QUESTION_TYPES = ("color", "shape", "yes/no")


@dataclass
class Question:
    text: str
    answer: str

    @property
    def type(self) -> str:
        """One of :data:`QUESTION_TYPES`, from the answer."""
        if self.answer in COLORS:
            return "color"
        return "shape" if self.answer in SHAPES else "yes/no"


@dataclass
class ShapeImage:
    """One easy-vqa image: its file, inferred attributes and questions."""

    image_id: int
    split: str
    path: Path
    color: str | None = None
    shape: str | None = None
    questions: list[Question] = field(default_factory=list)

    def description(self) -> str:
        """``"a red circle"``, ``"a red shape"``, ``"a circle"`` or ``"a shape"``."""
        noun = self.shape or "shape"
        return f"a {self.color} {noun}" if self.color else f"a {noun}"

    @property
    def facts(self) -> dict[str, str]:
        return {k: v for k, v in (("color", self.color), ("shape", self.shape)) if v}


def _infer(image: ShapeImage) -> None:
    positive: set[str] = set()
    negative: set[str] = set()
    for q in image.questions:
        words = re.findall(r"[a-z]+", q.text)
        named = {w for w in words if w in COLORS or w in SHAPES}
        if q.answer in ("yes", "no"):
            holds = (q.answer == "yes") != bool(_NEGATIONS & set(words))
            (positive if holds else negative).update(named)
        else:
            positive.update(named | {q.answer})
    for attr, values in (("color", COLORS), ("shape", SHAPES)):
        known = [v for v in values if v in positive]
        remaining = [v for v in values if v not in negative]
        if len(known) == 1:
            setattr(image, attr, known[0])
        elif len(remaining) == 1:
            setattr(image, attr, remaining[0])


@lru_cache(maxsize=2)
def load_split(split: str) -> tuple[ShapeImage, ...]:
    """Every image of ``split`` ("train" or "test"), sorted by id, with its questions."""
    import easy_vqa

    if split not in SPLITS:
        raise ValueError(f"unknown easy-vqa split {split!r}; use train or test")
    reader = {"train": (easy_vqa.get_train_questions, easy_vqa.get_train_image_paths),
              "test": (easy_vqa.get_test_questions, easy_vqa.get_test_image_paths)}[split]
    texts, answers, ids = reader[0]()
    images = {i: ShapeImage(i, split, Path(p)) for i, p in reader[1]().items()}
    for text, answer, image_id in zip(texts, answers, ids):
        images[image_id].questions.append(Question(text, answer))
    for image in images.values():
        _infer(image)
    return tuple(images[i] for i in sorted(images))


@lru_cache(maxsize=None)
def image_bytes(path: Path) -> bytes:
    """The image file, checked by :func:`vlmkit.data.images.prepare_image` (read once per process)."""
    return prepare_image(path.read_bytes())


def vqa_messages(questions: list[Question]) -> list[dict[str, str]]:
    """Questions about one image as a schema conversation: the first user turn is
    ``"<image>\\n{question}"``, later ones the bare question; each assistant turn is the one-word answer."""
    messages = []
    for i, q in enumerate(questions):
        messages.append({"role": "user", "content": VQA_PROMPT.format(question=q.text) if i == 0 else q.text})
        messages.append({"role": "assistant", "content": q.answer})
    return messages
