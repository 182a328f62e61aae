"""One experiment run: build the data, evaluate, train every stage, evaluate again.

Shared by ``vlmkit demo`` (scores before and after training) and ``vlmkit ablate`` (scores of each
arm after training). A rerun continues where it stopped: finished stages are skipped by the
trainer, and a task already evaluated on the same weights is read back (:func:`evaluate_model`).
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from vlmkit.config import Recipe

Log = Callable[[str], None]
# result name ("easy_vqa", "fewshot_4shot", ...) -> {score name: value}
TaskScores = dict[str, dict[str, float]]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_memory_gib() -> float:
    """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Timer:
    """Wall time per named phase, logged as each phase ends."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.phases: dict[str, float] = {}
        self.start = time.perf_counter()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.log(f"[{self.elapsed():7.1f}s] {name} ...")
        begin = time.perf_counter()
        yield
        self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - begin
        self.log(f"[{self.elapsed():7.1f}s] {name}: done in {self.phases[name]:.1f}s (peak memory {peak_memory_gib():.2f} GiB)")

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def prepare_data(recipe: "Recipe", log: Log) -> None:
    """Build every named dataset whose definition can build itself (embedded data), if missing."""
    from vlmkit.data.datasets import resolve_dataset

    for name, ds in recipe.datasets.items():
        resolved = resolve_dataset(ds, prepare=True)
        log(f"  dataset {name}: {resolved.kind} at {resolved.remote or resolved.local}")


def result_label(name: str, options: dict[str, Any], taken: TaskScores) -> str:
    """``name`` (e.g. ``easy_vqa_4shot``), with the task's options appended when another task of
    the same name and shots is already scored (``fewshot_names[ways=3]``)."""
    if name not in taken:
        return name
    label = f"{name}[{','.join(f'{k}={v}' for k, v in sorted(options.items()))}]"
    if label in taken:
        raise ValueError(f"eval.tasks lists {label} twice; remove the duplicate")
    return label


def task_record(spec, recipe: "Recipe", weights: str) -> dict[str, Any]:
    """What determines a task's scores: the task spec, prompt format, seed, batch size (batched
    generation pads) and the model's weights."""
    record = {"task": spec.name, "shots": spec.shots, "limit": spec.limit, "options": spec.options,
              "chat_template": recipe.model.chat_template, "seed": recipe.trainer.seed, "batch_size": recipe.eval.batch_size,
              "weights": weights}
    if recipe.eval.max_new_tokens is not None:
        record["max_new_tokens"] = recipe.eval.max_new_tokens
    return record


def initial_fingerprint(recipe: "Recipe") -> str:
    """Identifies the untrained model (:func:`initial_model`): a hash of ``model:``, the seed it
    is built with and the software that builds it and ships its weights
    (:func:`vlmkit.experiments.fingerprint.software_versions`)."""
    from vlmkit.experiments.fingerprint import software_versions

    body = json.dumps({"model": recipe.model.model_dump(mode="json"), "seed": recipe.trainer.seed,
                       "software": software_versions()}, sort_keys=True)
    return f"initial:{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def weights_fingerprint(recipe: "Recipe") -> str:
    """Identifies the weights :func:`trained_model` loads: the last finished stage, its final
    weights' size and modification time (so a moved run folder keeps its evaluations), or
    :func:`initial_fingerprint` when no stage has finished."""
    from vlmkit.storage.layout import RunLayout

    layout = RunLayout.of(recipe)
    last = layout.last_finished()
    if last is None:
        return initial_fingerprint(recipe)
    stat = layout.stage(last).weights.stat()
    return f"{last}:{stat.st_size}:{stat.st_mtime_ns}"


def _reusable(path: Path, record: dict[str, Any]) -> TaskScores | None:
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    return saved["scores"] if saved.get("record") == record else None


def saved_seconds(folder: Path) -> float:
    """Seconds the evaluations saved in ``folder`` took when they ran (0 for none)."""
    total = 0.0
    for path in folder.glob("*.json"):
        try:
            total += float(json.loads(path.read_text(encoding="utf-8")).get("seconds") or 0.0)
        except (ValueError, AttributeError):
            continue
    return total


def evaluate_model(load: Callable[[], Any], recipe: "Recipe", folder: Path, log: Log, *, weights: str,
                   shared: bool = False) -> TaskScores:
    """Run the recipe's ``eval.tasks`` on the model ``load()`` returns; each task's result and
    predictions go to ``folder/<label>.json`` with the record it ran under (:func:`task_record`;
    ``weights`` identifies the model's weights). A task whose file holds the same record is read
    back instead, so adding a task to a finished run evaluates only that task; ``load`` is called
    only when some task has to run. ``shared`` (for weights every run has alike, the untrained
    model's): a result missing from ``folder`` is also looked up in, and a new one also written
    to, the cache shared by all runs (:mod:`vlmkit.experiments.eval_cache`)."""
    from vlmkit.eval.harness import evaluate
    from vlmkit.eval.results import result_name
    from vlmkit.eval.tasks import build_task
    from vlmkit.experiments import eval_cache
    from vlmkit.storage.atomic import write_text_atomic

    scores: TaskScores = {}
    model = None
    folder.mkdir(parents=True, exist_ok=True)
    for spec in recipe.eval.tasks:
        label = result_label(result_name(spec.name, spec.shots), spec.options, scores)
        record = task_record(spec, recipe, weights)
        path = folder / f"{label}.json"
        saved = _reusable(path, record)
        if saved is not None:
            scores[label] = saved
            log(f"  {label}: read back from {path}")
            continue
        if shared and (cached := eval_cache.restore(record, path)) is not None:
            scores[label] = _reusable(path, record)
            log(f"  {label}: read back from the cache {cached}")
            continue
        model = load() if model is None else model
        result = evaluate(model, build_task(spec.name, spec.options), shots=spec.shots, limit=spec.limit,
                          batch_size=recipe.eval.batch_size, chat_template=recipe.model.chat_template, seed=recipe.trainer.seed,
                          max_new_tokens=recipe.eval.max_new_tokens)
        text = json.dumps({"record": record, **result.to_json()}, indent=2, ensure_ascii=False, default=str)
        write_text_atomic(path, text)  # never a half-written file to read back
        if shared:
            eval_cache.store(record, text)
        scores[label] = result.scores
        shown = ", ".join(f"{k} {v:.3f}" for k, v in result.scores.items())
        log(f"  {label}: {shown} ({len(result.predictions)} items, {result.seconds:.0f}s)")
    return scores


def saved_details(folder: Path, labels) -> dict[str, dict[str, Any]]:
    """``{label: {"intervals": ..., "baselines": ..., "item_scores": ...}}`` from the result files
    :func:`evaluate_model` wrote under ``folder`` (empty for a label without a file or written
    before they were kept)."""
    out = {}
    for label in labels:
        path = folder / f"{label}.json"
        if path.is_file():
            saved = json.loads(path.read_text())
            out[label] = {key: saved.get(key, {}) for key in ("intervals", "baselines", "item_scores")}
    return out


def initial_model(recipe: "Recipe"):
    """The untrained model the first stage starts from (seeded, pretrained component weights)."""
    from vlmkit.train.stages import build_stage_model

    return build_stage_model(recipe, next(iter(recipe.stages)))


def trained_model(path: Path, overrides: list[str], recipe: "Recipe"):
    """The recipe's model with the final weights of its last finished stage (``vlmkit eval``'s
    loader), on the device the recipe trains on."""
    from vlmkit.eval.loading import load_model

    return load_model(path, overrides, device=recipe.trainer.device).model


def train(recipe: "Recipe", log: Log, stage: str | None = None) -> dict[str, dict[str, Any]]:
    """Train every stage, or only ``stage`` (finished stages are skipped); returns the stage summaries."""
    from vlmkit.train.stages import run_recipe

    summaries = run_recipe(recipe, stage)
    for name, s in summaries.items():
        state = "already done" if s.get("skipped") else f"{s.get('seconds', 0):.0f}s"
        first, final = s.get("first_loss"), s.get("final_loss")
        losses = f"loss {first:.3f} -> {final:.3f}" if first is not None and final is not None else "no loss recorded"
        log(f"  stage {name}: {s.get('batches')} steps, {losses} ({state})")
    return summaries
