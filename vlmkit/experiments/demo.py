"""``vlmkit demo``: the embedded default end to end, with scores before and after training.

Phases (each timed, with peak memory): build the embedded data if missing; evaluate the untrained
model; train every stage; evaluate the trained model; write ``<run_dir>/demo/``: ``scores.md``
(the before/after table, also printed), ``scores.json`` and ``curves.png`` (training curves).
A rerun reuses what is finished: finished stages are skipped, and evaluations of the same weights read back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from vlmkit.experiments.runs import (
    Log, TaskScores, Timer, evaluate_model, initial_fingerprint, initial_model, prepare_data, saved_details, train, trained_model,
    weights_fingerprint,
)

DEMO_DIR = "demo"


def default_recipe(tiny: bool) -> Path:
    """The shipped recipe the demo runs: ``embedded.yaml``, or ``embedded_tiny.yaml`` with ``tiny``."""
    from vlmkit.config.bundled import bundled_recipes

    path = bundled_recipes() / ("embedded_tiny.yaml" if tiny else "embedded.yaml")
    if not path.is_file():
        raise FileNotFoundError(f"the demo recipe {path} is missing from this vlmkit installation; reinstall vlmkit or pass --recipe PATH")
    return path


def score_table(before: TaskScores, after: TaskScores, details: dict[str, dict] | None = None) -> str:
    """Markdown: one row per (task, score): chance and the blind baseline (answer prior without
    the image), the value before and after training, the after value's 95% interval, the change.
    ``details``: ``{task: {"intervals": ..., "baselines": ...}}`` (:func:`saved_details`)."""
    from vlmkit.eval.results import baseline_text, interval_text

    details = details or {}
    lines = ["| task | score | chance | blind | before | after | 95% CI | change |", "|---|---|---:|---:|---:|---:|---|---:|"]
    for task in after:
        info = details.get(task, {})
        for name, value in after[task].items():
            old = before.get(task, {}).get(name)
            shown = "n/a" if old is None else f"{old:.3f}"
            change = "" if old is None else f"{value - old:+.3f}"
            refs = " | ".join(baseline_text(info.get("baselines", {}), k, name) for k in ("chance", "blind"))
            ci = interval_text(info.get("intervals", {}).get(name))
            lines.append(f"| {task} | {name} | {refs} | {shown} | {value:.3f} | {ci} | {change} |")
    return "\n".join(lines) + "\n"


def run_demo(recipe_path: str | Path, overrides: Sequence[str] = (), *, log: Log = print) -> Path:
    """Run the demo for the recipe at ``recipe_path``; returns the folder of its outputs."""
    from vlmkit.config import load_recipe
    from vlmkit.experiments.curves import plot_curves
    from vlmkit.preflight import preflight
    from vlmkit.storage.layout import read_history

    timer = Timer(log)
    recipe = preflight(load_recipe(recipe_path, overrides), check_data=False, source=str(recipe_path))
    if not recipe.eval.tasks:
        raise ValueError(f"{recipe_path}: the demo needs eval.tasks to score the model before and after training")
    out = Path(recipe.trainer.run_dir) / DEMO_DIR
    log(f"demo: recipe {recipe_path} ({recipe.name}), outputs under {out}")
    with timer.phase("data"):
        prepare_data(recipe, log)
    with timer.phase("evaluate before training"):
        before = evaluate_model(lambda: initial_model(recipe), recipe, out / "eval-before", log, weights=initial_fingerprint(recipe))
    with timer.phase("train"):
        summaries = train(recipe, log)
    with timer.phase("evaluate after training"):
        after = evaluate_model(lambda: trained_model(Path(recipe_path), list(overrides), recipe), recipe, out / "eval-after", log,
                               weights=weights_fingerprint(recipe))
    table = score_table(before, after, saved_details(out / "eval-after", after))
    plot_curves(read_history(recipe.trainer.run_dir, recipe.stages), out / "curves.png", title=f"{recipe.name}: training loss")
    (out / "scores.md").write_text(table)
    (out / "scores.json").write_text(json.dumps(
        {"recipe": str(recipe_path), "before": before, "after": after, "stages": summaries, "seconds": timer.phases,
         "total_seconds": timer.elapsed()}, indent=2, default=str))
    log(f"scores: {out / 'scores.md'}; training curves: {out / 'curves.png'}; total {timer.elapsed() / 60:.1f} min")
    return out
