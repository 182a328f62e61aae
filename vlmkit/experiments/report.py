"""The ablation report: a Markdown table per comparison next to the paper's direction, and a PNG
chart of the arms' scores (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

from vlmkit.experiments.manifest import Comparison
from vlmkit.experiments.verdict import judge_chain

# scores[comparison][arm][metric] -> value (None when the scale has no such metric)
Scores = dict[str, dict[str, dict[str, float | None]]]


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def verdicts(comparison: Comparison, arm_scores: dict[str, dict[str, float | None]], tol: float) -> dict[str, str]:
    """Metric -> agrees / disagrees / inconclusive / n/a, for each metric the paper has a direction for."""
    out = {}
    for metric in comparison.expect:
        values = {arm: arm_scores[arm].get(metric) for arm in comparison.arms}
        if any(v is None for v in values.values()):
            out[metric] = "n/a"
        else:
            out[metric] = judge_chain(comparison.relations(metric), values, tol)  # type: ignore[arg-type]
    return out


def markdown(title: str, command: str, comparisons: dict[str, Comparison], scores: Scores, tol: float,
             notes: dict[str, str] | None = None, chart: str | None = None) -> str:
    """The whole report: a summary of verdicts, then one table of arms x metrics per comparison."""
    lines = [f"# {title}", "", f"Made by: `{command}`", "",
             f"A direction 'a > b' agrees when a beats b by more than {tol:g}, disagrees when b beats a by more "
             f"than {tol:g}, and is inconclusive in between; 'a ~ b' agrees when they are within {tol:g}.", "",
             "| comparison | metric | paper | here |", "|---|---|---|---|"]
    for name, cmp in comparisons.items():
        for metric, verdict in verdicts(cmp, scores[name], tol).items():
            lines.append(f"| {name} | {metric} | {cmp.expect[metric]} | {verdict} |")
    if chart:
        lines += ["", f"![scores of every arm]({chart})"]
    for name, cmp in comparisons.items():
        lines += ["", f"## {name}", "", f"{cmp.finding} ({cmp.source})" if cmp.source else cmp.finding, "",
                  "| arm | " + " | ".join(cmp.metrics) + " |", "|---" * (len(cmp.metrics) + 1) + "|"]
        for arm in cmp.arms:
            lines.append(f"| {arm} | " + " | ".join(fmt(scores[name][arm].get(m)) for m in cmp.metrics) + " |")
        if notes and notes.get(name):
            lines += ["", notes[name]]
    return "\n".join(lines) + "\n"


def chart(comparisons: dict[str, Comparison], scores: Scores, path: str | Path) -> Path:
    """One panel per comparison: grouped bars, one group per metric, one bar per arm."""
    from vlmkit.experiments.plotting import pyplot, save_png

    plt = pyplot()

    n = len(comparisons)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False)
    for ax, (name, cmp) in zip(axes.flat, comparisons.items()):
        arms = list(cmp.arms)
        width = 0.8 / len(arms)
        for i, arm in enumerate(arms):
            values = [scores[name][arm].get(m) or 0.0 for m in cmp.metrics]
            ax.bar([j + i * width for j in range(len(cmp.metrics))], values, width, label=arm)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cmp.metrics))], cmp.metrics)
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return save_png(fig, path)
