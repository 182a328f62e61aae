"""The evaluation-task interface (registry kind ``tasks``).

A task loads examples from local files (paths come in as constructor options; nothing is
downloaded), says how each becomes a prompt, and scores the replies by the benchmark's official
rule. Factories are called as ``factory(**options)``; a plugin registers its own with
``registry.tasks.register("name", "pkg.module:MyTask")``.

Two modes: ``"generate"`` (the model writes a reply, :meth:`Task.parse` reads it) and
``"likelihood"`` (each of ``Example.options`` is scored by its log-likelihood after the prompt and
the best one is the prediction, MMLU-style).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence, Union

# An image: a file path, encoded bytes, a PIL image, or a callable returning one (lazy decoding).
ImageSource = Union[str, "os.PathLike[str]", bytes, Any, Callable[[], Any]]


@dataclass
class Example:
    """One evaluation item.

    ``prompt``: the user turn (``<image>`` markers place the images; without markers the images
    go first). ``target``: what :meth:`Task.score_item` compares with. ``answer``: the reply shown
    when this example serves as an in-context shot. ``options``: continuations scored in
    likelihood mode. ``shots``: in-context examples that belong to this item (placed before any
    shots drawn from the support split), e.g. the episode of a few-shot naming task.
    """

    id: Any
    prompt: str
    images: list[ImageSource] = field(default_factory=list)
    target: Any = None
    answer: str | None = None
    options: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    shots: list["Example"] = field(default_factory=list)


@dataclass
class Prediction:
    """A model reply to one example: ``text`` (raw reply, or the chosen option), ``parsed``
    (what the task reads from it) and ``score`` (per-item score, ``None`` when unscored)."""

    example: Example
    text: str
    parsed: Any = None
    score: float | None = None

    def to_json(self) -> dict[str, Any]:
        target = self.example.target
        return {
            "id": self.example.id,
            "prompt": self.example.prompt,
            "prediction": self.text,
            "parsed": self.parsed,
            "target": target if isinstance(target, (str, int, float, list, dict, type(None))) else str(target),
            "score": self.score,
        }


class Task(ABC):
    """An evaluation task. Subclasses implement :meth:`examples` and :meth:`score_item` (or
    :meth:`aggregate`) and may override :meth:`parse`.

    Class settings: ``known_options`` (the constructor options it accepts), ``mode`` (``"generate"``/``"likelihood"``), ``max_new_tokens``, ``chat`` (wrap
    prompts in the model's chat template; ``False`` feeds plain text), ``metric`` (the name of the
    mean item score), ``shot_separator`` (between shots when ``chat`` is off).

    ``support``: options of the few-shot support split, the same keys as the task's own (e.g.
    ``{"questions": "train.json", "images": "train2014/"}``); missing keys are taken from this
    task's options.
    """

    name: ClassVar[str] = "task"
    mode: ClassVar[str] = "generate"
    max_new_tokens: ClassVar[int] = 16
    chat: ClassVar[bool] = True
    metric: ClassVar[str] = "accuracy"
    shot_separator: ClassVar[str] = "\n\n"
    known_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, support: Mapping[str, Any] | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.known_options))
        if unknown:
            known = ", ".join(self.known_options) or "(none)"
            raise ValueError(f"task {self.name!r} has no option {', '.join(map(repr, unknown))}; its options are: {known}, support")
        self.options = options
        self.support_options = dict(support) if support is not None else None
        self.skipped: Counter[str] = Counter()

    @abstractmethod
    def examples(self) -> list[Example]:
        """The evaluation split, in file order (records that cannot be used are :meth:`skip`-ped)."""

    def support(self) -> list[Example]:
        """The split in-context shots are drawn from (``support=`` option)."""
        if self.support_options is None:
            raise ValueError(f"task {self.name!r} has no support split for few-shot evaluation; pass support options (e.g. -o support.questions=PATH)")
        other = type(self)(**{**self.options, **self.support_options})
        examples = other.examples()
        self.skipped.update({f"support_{k}": v for k, v in other.skipped.items()})
        return examples

    def preamble(self, example: Example) -> str:
        """Text before the in-context shots of a plain-text (``chat = False``) prompt."""
        return ""

    def parse(self, text: str, example: Example) -> Any:
        """What the score reads from a reply (default: the stripped text)."""
        return text.strip()

    def score_item(self, parsed: Any, example: Example) -> float | None:
        """Score of one parsed reply (``None``: scored only in :meth:`aggregate`, or no label)."""
        return None

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        """Task-level scores; the default is the mean item score as ``metric``."""
        scores = [p.score for p in predictions if p.score is not None]
        return {self.metric: sum(scores) / len(scores)} if scores else {}

    def item_values(self, predictions: Sequence[Prediction]) -> dict[str, dict[Any, float]]:
        """``{score: {example id: value}}`` for each score that is the mean of per-item values
        (for confidence intervals and paired comparisons); the default: the item scores behind
        ``metric``."""
        return {self.metric: {p.example.id: p.score for p in predictions if p.score is not None}}

    def baselines(self, examples: Sequence[Example]) -> dict[str, dict[str, float]]:
        """Scores on ``examples`` that need no model, keyed like :meth:`aggregate`:
        ``{"chance": {...}, "blind": {...}}`` (``blind``: the answer prior of the training data,
        without the image). Empty when the task defines none."""
        return {}

    def skip(self, reason: str) -> None:
        """Count a record that could not be used (reported with the results)."""
        self.skipped[reason] += 1

    def option(self, key: str, default: Any = ...) -> Any:
        """A task option; a missing required one is a one-line error naming it."""
        if key in self.options and self.options[key] is not None:
            return self.options[key]
        if default is ...:
            raise ValueError(f"task {self.name!r} needs the option {key!r} (e.g. -o {key}=PATH)")
        return default
