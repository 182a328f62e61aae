"""Evaluation results: JSON for machines, a small table for people."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from vlmkit.eval.tasks.base import Prediction


def result_name(task: str, shots: int = 0) -> str:
    """How a task's result is named: ``task``, or ``task_{shots}shot`` with in-context shots."""
    return f"{task}_{shots}shot" if shots else task


@dataclass
class EvalResult:
    """Scores of one task run, every prediction, and the records skipped (by reason);
    ``intervals``: ``{score: [low, high]}``, 95% bootstrap intervals over items;
    ``baselines``: ``{"chance" | "blind": {score: value}}`` on the same items, without a model;
    ``item_scores``: ``{score: {example id: value}}`` for scores that are item means (paired comparisons)."""

    task: str
    scores: dict[str, float]
    predictions: list[Prediction] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    shots: int = 0
    shot_method: str | None = None
    seed: int = 0
    num_examples: int = 0
    seconds: float = 0.0
    intervals: dict[str, list[float]] = field(default_factory=dict)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    item_scores: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return result_name(self.task, self.shots)

    def summary(self) -> dict[str, Any]:
        """Everything but the predictions."""
        return {
            "task": self.task, "shots": self.shots, "shot_method": self.shot_method, "seed": self.seed,
            "scores": self.scores, "num_examples": self.num_examples, "num_predictions": len(self.predictions),
            "skipped": self.skipped, "seconds": round(self.seconds, 3),
            "intervals": self.intervals, "baselines": self.baselines, "item_scores": self.item_scores,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "predictions": [p.to_json() for p in self.predictions]}

    def write(self, folder: str | Path) -> Path:
        """Write ``<folder>/<task>[_<k>shot].json`` (summary + predictions); returns its path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False, default=str))
        return path


def interval_text(interval: Sequence[float] | None) -> str:
    """``"[0.612, 0.668]"``, or ``"-"`` without an interval."""
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "-"


def baseline_text(baselines: dict[str, dict[str, float]], baseline: str, metric: str) -> str:
    value = baselines.get(baseline, {}).get(metric)
    return "-" if value is None else f"{value:.3f}"


def format_table(results: Sequence[EvalResult]) -> str:
    """A Markdown table: one row per (task, metric) with its 95% interval, chance and blind
    baselines, plus counts and skipped records."""
    lines = ["| task | shots | metric | value | 95% CI | chance | blind | n | skipped |", "|---|---:|---|---:|---|---:|---:|---:|---|"]
    for r in results:
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(r.skipped.items())) or "0"
        scores = r.scores or {"(unscored)": float("nan")}
        for i, (metric, value) in enumerate(scores.items()):
            shown = "-" if value != value else f"{value:.4f}"
            refs = " | ".join(baseline_text(r.baselines, k, metric) for k in ("chance", "blind"))
            lines.append(f"| {r.task if i == 0 else ''} | {r.shots if i == 0 else ''} | {metric} | {shown} | "
                         f"{interval_text(r.intervals.get(metric))} | {refs} | {len(r.predictions) if i == 0 else ''} | {skipped if i == 0 else ''} |")
    return "\n".join(lines)
