"""One experiment run: build the data, evaluate, train every stage, evaluate again.

Shared by ``vlmkit demo`` (scores before and after training) and ``vlmkit ablate`` (scores of each
arm after training). Results are cached as JSON in the run folder, so a rerun continues where it
stopped: finished stages are skipped by the trainer, finished evaluations are read back.
"""

from __future__ import annotations

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
EVAL_DEVICES = {"auto": "auto", "cpu": "cpu", "gpu": "cuda"}  # trainer.device -> load_model device
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


def evaluate_model(model, recipe: "Recipe", folder: Path, log: Log) -> TaskScores:
    """Run the recipe's ``eval.tasks`` on ``model``; writes each task's predictions under ``folder``."""
    from vlmkit.eval.harness import evaluate
    from vlmkit.eval.tasks import build_task

    scores: TaskScores = {}
    folder.mkdir(parents=True, exist_ok=True)
    for spec in recipe.eval.tasks:
        task = build_task(spec.name, spec.options)
        result = evaluate(model, task, shots=spec.shots, limit=spec.limit, batch_size=recipe.eval.batch_size,
                          chat_template=recipe.model.chat_template, seed=recipe.trainer.seed)
        label = result_label(result.name, spec.options, scores)
        (folder / f"{label}.json").write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False, default=str))
        scores[label] = result.scores
        shown = ", ".join(f"{k} {v:.3f}" for k, v in result.scores.items())
        log(f"  {label}: {shown} ({len(result.predictions)} items, {result.seconds:.0f}s)")
    return scores


def cached(path: Path, compute: Callable[[], Any]) -> Any:
    """``compute()`` once; its JSON result is kept at ``path`` and read back on later calls."""
    if path.is_file():
        return json.loads(path.read_text())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2))
    tmp.replace(path)
    return value


def initial_model(recipe: "Recipe"):
    """The untrained model the first stage starts from (seeded, pretrained component weights)."""
    from vlmkit.train.stages import build_stage_model

    return build_stage_model(recipe, next(iter(recipe.stages)))


def trained_model(path: Path, overrides: list[str], recipe: "Recipe"):
    """The recipe's model with the final weights of its last finished stage (``vlmkit eval``'s
    loader), on the device the recipe trains on."""
    from vlmkit.eval.loading import load_model

    return load_model(path, overrides, device=EVAL_DEVICES[recipe.trainer.device]).model


def train(recipe: "Recipe", log: Log) -> dict[str, dict[str, Any]]:
    """Train every stage (finished stages are skipped); returns the stage summaries."""
    from vlmkit.train.stages import run_recipe

    summaries = run_recipe(recipe)
    for name, s in summaries.items():
        state = "already done" if s.get("skipped") else f"{s.get('seconds', 0):.0f}s"
        first, final = s.get("first_loss"), s.get("final_loss")
        losses = f"loss {first:.3f} -> {final:.3f}" if first is not None and final is not None else "no loss recorded"
        log(f"  stage {name}: {s.get('batches')} steps, {losses} ({state})")
    return summaries
