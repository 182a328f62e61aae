"""Tasks scored by a judge LLM (LLaVA-Bench, MM-Vet): the judge is built from the task options
``judge`` (a registered judge name, default ``openai``) and ``judge_options`` (its options).

The judge runs in :meth:`Task.parse`, so each prediction keeps the judge's review. A judge that
fails (after its own bounded retries) or whose reply the benchmark's rule cannot read leaves the
item unscored: it is counted under ``skipped`` as ``judge_<reason>`` and in the scores as
``judge_failures``, never scored as zero.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

from vlmkit.eval.judges import Judge, JudgeError, build_judge
from vlmkit.eval.tasks.base import Prediction, Task


class JudgedTask(Task):
    """Base of judge-scored tasks; subclasses call :meth:`ask` from :meth:`parse`."""

    known_options: tuple[str, ...] = ("judge", "judge_options")

    def __init__(self, support: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__(support, **options)
        self._judge: Judge | None = None
        self.judge_failures: Counter[str] = Counter()

    @property
    def judge(self) -> Judge:
        """The judge, built on first use (so listing examples needs no endpoint)."""
        if self._judge is None:
            judge = self.option("judge", "openai")
            self._judge = judge if isinstance(judge, Judge) else build_judge(judge, **dict(self.option("judge_options", {})))
        return self._judge

    def ask(self, prompt: str, **settings: Any) -> str | None:
        """The judge's reply, or ``None`` with the failure counted."""
        try:
            return self.judge.complete(prompt, **settings)
        except JudgeError as exc:
            self.failed(exc.reason)
            return None

    def failed(self, reason: str) -> None:
        self.judge_failures[reason] += 1
        self.skip(f"judge_{reason}")

    def judge_counts(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        judged = sum(p.score is not None for p in predictions)
        return {"judged": float(judged), "judge_failures": float(len(predictions) - judged)}
