"""``vlmkit demo``: the embedded default end to end, with scores before and after training.

Phases (each timed, with peak memory): build the embedded data if missing; evaluate the untrained
model; train every stage; evaluate the trained model; write ``<run_dir>/demo/``: ``scores.md``
(the before/after table, also printed), ``scores.json`` and ``curves.png`` (training curves).
After each stage it prints the expected total duration on this machine and whether it fits the
20-minute budget (:mod:`vlmkit.experiments.forecast`). A rerun reuses what is finished: finished
stages are skipped, and evaluations of the same weights read back.
The untrained model's scores are also cached across run folders (``$VLMKIT_CACHE/evals``), as its
weights are the same in every run of the recipe on the same software.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from vlmkit.experiments.runs import (
    Log, TaskScores, Timer, evaluate_model, initial_fingerprint, initial_model, prepare_data, saved_details, saved_seconds, train,
    trained_model, weights_fingerprint,
)

DEMO_DIR = "demo"
# The untrained model is scored on at most this many items per task: it sets the starting point
# (none of its replies to the first 200 easy-VQA questions is a one-word answer: 0.000), and 800
# fewer questions save the first run about 2 minutes on a slow CPU; its scores are cached for every
# later run (eval_cache).
BEFORE_ITEMS = 50


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


def capped(recipe, items: int):
    """``recipe`` with every eval task limited to its first ``items`` items."""
    tasks = [t.model_copy(update={"limit": min(t.limit or items, items)}) for t in recipe.eval.tasks]
    return recipe.model_copy(update={"eval": recipe.eval.model_copy(update={"tasks": tasks})})


def train_with_forecast(recipe, timer: Timer, eval_seconds: float, log: Log) -> dict[str, dict]:
    """Train stage by stage; after each stage that trained, log the expected total duration
    (:func:`vlmkit.experiments.forecast.forecast_message`) while stages remain."""
    from vlmkit.experiments import forecast
    from vlmkit.storage.layout import read_history

    flops = forecast.stage_flops(recipe)
    summaries: dict[str, dict] = {}
    names = list(recipe.stages)
    for i, name in enumerate(names):
        summaries.update(train(recipe, log, name))
        rate = forecast.achieved_rate(read_history(recipe.trainer.run_dir, names[: i + 1]))
        left = sum(flops.get(n, 0.0) for n in names[i + 1 :])
        if rate and left and not summaries[name].get("skipped"):
            total = forecast.expected_seconds(timer.elapsed(), left, rate, eval_seconds)
            log(forecast.forecast_message(total, rate, matmul_rate()))
    return summaries


def matmul_rate() -> float | None:
    """The fp32 matmul FLOP/s training measured on this CPU (cached in this process); ``None`` on a GPU."""
    import torch

    from vlmkit.train.peak import cpu_peak

    return None if torch.cuda.is_available() else cpu_peak(torch.float32).flops


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
        before = evaluate_model(lambda: initial_model(recipe), capped(recipe, BEFORE_ITEMS), out / "eval-before", log,
                                weights=initial_fingerprint(recipe), shared=True)  # the same in every run: cached across runs
    with timer.phase("train"):
        summaries = train_with_forecast(recipe, timer, saved_seconds(out / "eval-before"), log)
    with timer.phase("evaluate after training"):
        after = evaluate_model(lambda: trained_model(Path(recipe_path), list(overrides), recipe), recipe, out / "eval-after", log,
                               weights=weights_fingerprint(recipe))
    table = score_table(before, after, saved_details(out / "eval-after", after))
    table += f"\nbefore: the untrained model on the first {BEFORE_ITEMS} items of each task at most; after: on every item.\n"
    plot_curves(read_history(recipe.trainer.run_dir, recipe.stages), out / "curves.png", title=f"{recipe.name}: training loss")
    (out / "scores.md").write_text(table)
    (out / "scores.json").write_text(json.dumps(
        {"recipe": str(recipe_path), "before": before, "after": after, "stages": summaries, "seconds": timer.phases,
         "total_seconds": timer.elapsed()}, indent=2, default=str))
    log(f"scores: {out / 'scores.md'}; training curves: {out / 'curves.png'}; total {timer.elapsed() / 60:.1f} min")
    return out
