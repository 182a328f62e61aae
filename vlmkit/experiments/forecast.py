"""How long ``vlmkit demo`` takes on this machine, forecast while it runs.

Training: each stage's FLOPs per step (:class:`vlmkit.train.flops.FlopModel` on its first batches,
with the parts it trains) times its steps, over the FLOP/s that training has reached so far on
this machine (the ``flops`` and ``seconds`` of the finished stages' history rows, first steps
left out). Evaluation after training: as long as the evaluation before it took (the trained model
stops generating sooner, so this errs long).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from vlmkit.config import Recipe

BUDGET_SECONDS = 20 * 60  # the embedded default's promise on the slow end of a 2-core CPU machine
SAMPLED_BATCHES = 2


def stage_flops(recipe: "Recipe", batches: int = SAMPLED_BATCHES) -> dict[str, float]:
    """``{stage: training FLOPs of all its steps}``, from the mean FLOPs of its first ``batches``
    batches (model built without weights; a stage with no step count in batches is left out)."""
    from vlmkit.data.loader import build_dataloader
    from vlmkit.model.vlm import build_vlm
    from vlmkit.train.flops import flop_model
    from vlmkit.train.freezing import set_trainable
    from vlmkit.train.trainer import batches_in

    model = build_vlm(recipe.model, load_weights=False)
    out = {}
    for name, stage in recipe.stages.items():
        steps = batches_in(stage.duration)
        if steps is None:
            continue
        set_trainable(model, stage.trainable, stage.llm_trainable_layers)
        counter = flop_model(model)
        loader = build_dataloader(recipe, name, model, stage.global_batch_size)
        sample = [counter.batch_flops(b, model.image_token_id) for b in itertools.islice(iter(loader), batches)]
        if sample:
            out[name] = steps * sum(sample) / len(sample)
    return out


def achieved_rate(rows: Iterable[dict]) -> float | None:
    """FLOP/s of the history ``rows`` that count FLOPs, each stage's first step left out (it also
    builds and warms up); ``None`` without any."""
    flops = seconds = 0.0
    for row in rows:
        if row.get("step", 0) > 1 and row.get("flops"):
            flops += row["flops"]
            seconds += row["seconds"]
    return flops / seconds if seconds > 0 else None


def expected_seconds(elapsed: float, flops_left: float, rate: float, eval_seconds: float) -> float:
    """Elapsed time plus the training FLOPs left at ``rate`` plus the final evaluation."""
    return elapsed + flops_left / rate + eval_seconds


def forecast_message(total: float, rate: float, matmul: float | None, budget: float = BUDGET_SECONDS) -> str:
    """One line: the expected total, what it rests on, and whether it fits ``budget``."""
    basis = f"training at {rate / 1e9:.1f} GFLOP/s so far" + (f", fp32 matmul {matmul / 1e9:.1f} GFLOP/s" if matmul else "")
    verdict = ("within" if total <= budget else "longer than") + f" the {budget / 60:.0f}-minute budget"
    line = f"demo: expected about {total / 60:.1f} min in all on this machine ({basis}); {verdict}"
    if total > budget:
        line += " (slower than the machines it is sized for; the scores come out the same, only later)"
    return line
