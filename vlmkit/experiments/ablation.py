"""``vlmkit ablate``: run every arm of the manifest's comparisons at one scale, then report.

Each arm becomes a full recipe (its base at the scale, plus what the arm changes), written to
``OUT/runs/<arm>-<hash>/recipe.yaml`` so it can be rerun with ``vlmkit train``; arms that come out
identical (the base recipe as is, shared by several comparisons) run once. Nothing finished is
repeated: finished stages are skipped, tasks already evaluated on the same weights are read back
(so adding a task to the scale evaluates only that task), and a stage that several runs share
(same model, data and stages so far) trains once (:mod:`vlmkit.experiments.sharing`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vlmkit.config.loading import RecipeError, load_recipe
from vlmkit.eval.results import result_name
from vlmkit.experiments.manifest import Comparison, load_manifest, select
from vlmkit.experiments.report import Scores, chart, markdown
from vlmkit.experiments.runs import (
    Log, TaskScores, Timer, evaluate_model, prepare_data, saved_details, train, trained_model, weights_fingerprint,
)
from vlmkit.experiments.scale import MetricSpec, Scale, apply_scale, arm_parts, load_scale
from vlmkit.experiments.sharing import adopt_finished_stages, register_finished_stages

REPORT, CHART, SCORES = "ablations.md", "ablations.png", "scores.json"


@dataclass
class ArmRun:
    """One distinct training run and the (comparison, arm) pairs it stands for."""

    key: str
    folder: Path
    data: dict
    arms: list[tuple[str, str]] = field(default_factory=list)

    @property
    def recipe_path(self) -> Path:
        return self.folder / "recipe.yaml"


def run_key(data: dict) -> str:
    """Hash of everything that affects training (not the name, description or evaluation)."""
    body = {k: v for k, v in data.items() if k not in ("name", "description", "eval")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:10]


def find_scale(name_or_path: str, manifest_dir: Path) -> Scale | None:
    """``none`` (the arms as written), a scale file, or a name in ``<recipes>/scales/``."""
    if name_or_path == "none":
        return None
    path = Path(name_or_path)
    if not path.is_file():
        path = manifest_dir.parent / "scales" / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (manifest_dir.parent / "scales").glob("*.yaml"))
        raise FileNotFoundError(f"no scale {name_or_path!r}: give a scale file or one of {', '.join(known) or '(none found)'} or 'none'")
    return load_scale(path)


def plan(manifest_dir: Path, comparisons: dict[str, Comparison], scale: Scale | None, out: Path) -> dict[str, ArmRun]:
    """The distinct runs behind the arms (each validated as a recipe before anything trains)."""
    runs: dict[str, ArmRun] = {}
    for cname, cmp in comparisons.items():
        for arm, file in cmp.arms.items():
            base, delta, meta = arm_parts(manifest_dir / file)
            data = apply_scale(base, delta, scale)
            key = run_key(data)
            if key not in runs:
                folder = (out / "runs" / f"{meta['name']}-{key}").resolve()
                data = {**data, "name": meta["name"], "trainer": {**data.get("trainer", {}), "run_dir": str(folder)}}
                runs[key] = ArmRun(key, folder, data)
            runs[key].arms.append((cname, arm))
    for run in runs.values():
        run.folder.mkdir(parents=True, exist_ok=True)
        run.recipe_path.write_text(yaml.safe_dump(run.data, sort_keys=False))
        try:
            load_recipe(run.recipe_path)
        except RecipeError as err:
            arms = ", ".join(f"{c}.{a}" for c, a in run.arms)
            raise RecipeError([f"arm {arms} at this scale: {p}" for p in err.problems], str(run.recipe_path)) from None
    return runs


def execute(run: ArmRun, log: Log) -> TaskScores:
    """Train the run's recipe (finished stages are skipped) and evaluate it (tasks already scored on
    the same weights are read back); the scores are also written to the run's ``scores.json``."""
    from vlmkit.preflight import preflight

    recipe = preflight(load_recipe(run.recipe_path), check_data=False, source=str(run.recipe_path))
    prepare_data(recipe, log)
    train(recipe, log)
    scores = evaluate_model(lambda: trained_model(run.recipe_path, [], recipe), recipe, run.folder / "eval", log,
                            weights=weights_fingerprint(recipe))
    (run.folder / SCORES).write_text(json.dumps(scores, indent=2))
    return scores


def metric_value(scores: TaskScores, spec: MetricSpec) -> float | None:
    return scores.get(result_name(spec.task, spec.shots), {}).get(spec.score)


def metric_items(details: dict[str, dict], spec: MetricSpec) -> dict[str, float] | None:
    return details.get(result_name(spec.task, spec.shots), {}).get("item_scores", {}).get(spec.score)


def metric_interval(details: dict[str, dict], spec: MetricSpec) -> list[float] | None:
    return details.get(result_name(spec.task, spec.shots), {}).get("intervals", {}).get(spec.score)


def metric_baselines(details: dict[str, dict], spec: MetricSpec) -> dict[str, float | None]:
    """``{"chance": ..., "blind": ...}`` of the metric (``None`` where the task has none)."""
    saved = details.get(result_name(spec.task, spec.shots), {}).get("baselines", {})
    return {kind: saved.get(kind, {}).get(spec.score) for kind in ("chance", "blind")}


def collect(comparisons: dict[str, Comparison], runs: dict[str, ArmRun], results: dict[str, dict], scale: Scale | None, value=metric_value):
    """``[comparison][arm][metric]`` -> ``value(results[run], spec)`` (``None`` for a metric the scale lacks)."""
    metrics = scale.metrics if scale else {}
    by_arm = {arm: key for key, run in runs.items() for arm in run.arms}
    return {
        cname: {arm: {m: value(results[by_arm[(cname, arm)]], metrics[m]) if m in metrics else None for m in cmp.metrics}
                for arm in cmp.arms}
        for cname, cmp in comparisons.items()
    }


def ablate(folder: str | Path, scale_name: str, out: str | Path, only: list[str] | None = None, *,
           command: str = "", dry_run: bool = False, log: Log = print) -> Path:
    """Run the comparisons at ``scale_name`` and write ``OUT/ablations.md`` (returned) and ``.png``."""
    manifest, root = load_manifest(folder)
    comparisons = select(manifest, only)
    scale = find_scale(scale_name, root)
    out = Path(out)
    runs = plan(root, comparisons, scale, out)
    log(f"{len(comparisons)} comparisons, {sum(len(c.arms) for c in comparisons.values())} arms, {len(runs)} distinct runs")
    for run in runs.values():
        log(f"  {run.folder.name}: {', '.join(f'{c}.{a}' for c, a in run.arms)}")
    if dry_run:
        return out
    timer = Timer(log)
    results, finished = {}, {}
    for key, run in runs.items():
        with timer.phase(f"run {run.folder.name}"):
            adopted = adopt_finished_stages(run.data, run.folder, finished)
            if adopted:
                log(f"  reusing the finished {', '.join(adopted)} stage(s) of an identical earlier run")
            results[key] = execute(run, log)
            register_finished_stages(run.data, run.folder, finished)
    scores = collect(comparisons, runs, results, scale)
    details = {key: saved_details(run.folder / "eval", results[key]) for key, run in runs.items()}
    items = collect(comparisons, runs, details, scale, value=metric_items)
    intervals = collect(comparisons, runs, details, scale, value=metric_interval)
    baselines = collect(comparisons, runs, details, scale, value=metric_baselines)
    (out / SCORES).write_text(json.dumps({"scale": scale_name, "scores": scores, "seconds": timer.phases}, indent=2))
    chart(comparisons, scores, out / CHART)
    title = f"VILA ablations at the '{scale_name}' scale"
    report = out / REPORT
    report.write_text(markdown(title, command or f"vlmkit ablate {folder} --scale {scale_name}", comparisons, scores,
                               manifest.tolerance, chart=CHART, items=items, intervals=intervals, baselines=baselines))
    log(f"report: {report} (chart {out / CHART}); total {timer.elapsed():.0f}s")
    return report
