"""Training curves of a run: loss (and learning rate) per step, stage after stage, as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average over ``window`` steps (the first points average what exists)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_curves(rows: Iterable[dict[str, Any]], path: str | Path, title: str = "training curves", window: int = 10) -> Path:
    """``rows``: history rows (``stage``, ``step``, ``loss``, ``lr``) in run order -> PNG at ``path``.

    Steps are numbered across stages; each stage gets its own colour; raw loss is faint, the
    ``window``-step moving average solid; the learning rate is on a second panel.
    """
    from vlmkit.experiments.plotting import pyplot, save_png

    plt = pyplot()

    stages: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("loss") is not None:
            stages.setdefault(row["stage"], []).append(row)
    fig, (ax_loss, ax_lr) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    offset = 0
    for i, (stage, stage_rows) in enumerate(stages.items()):
        x = [offset + k + 1 for k in range(len(stage_rows))]
        loss = [float(r["loss"]) for r in stage_rows]
        color = f"C{i}"
        ax_loss.plot(x, loss, color=color, alpha=0.25, linewidth=0.8)
        ax_loss.plot(x, smooth(loss, window), color=color, label=stage)
        ax_lr.plot(x, [float(r.get("lr", 0.0)) for r in stage_rows], color=color)
        offset += len(stage_rows)
    ax_loss.set_ylabel("loss")
    ax_loss.set_title(title)
    ax_loss.legend()
    ax_lr.set_ylabel("lr (1st group)")
    ax_lr.set_xlabel("step (all stages)")
    return save_png(fig, path)
