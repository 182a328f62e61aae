"""Replies -> parsed answers -> per-item and task scores (no model needed; pure Python)."""

from __future__ import annotations

from typing import Sequence

from vlmkit.eval.tasks.base import Example, Prediction, Task


def score_replies(task: Task, examples: Sequence[Example], replies: Sequence[str]) -> tuple[list[Prediction], dict[str, float]]:
    """Parse and score ``replies[i]`` for ``examples[i]``; returns the predictions and the task's
    aggregate scores (``{}`` when nothing is labelled)."""
    if len(examples) != len(replies):
        raise ValueError(f"{len(replies)} replies for {len(examples)} examples")
    predictions = []
    for example, text in zip(examples, replies):
        parsed = task.parse(text, example)
        predictions.append(Prediction(example, text, parsed, task.score_item(parsed, example)))
    return predictions, task.aggregate(predictions)
