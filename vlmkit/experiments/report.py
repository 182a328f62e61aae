"""The ablation report: a Markdown table per comparison next to the paper's direction, and a PNG
chart of the arms' scores (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

from vlmkit.eval.intervals import paired_difference_interval
from vlmkit.experiments.manifest import Comparison
from vlmkit.experiments.verdict import Relation, judge_chain

# scores[comparison][arm][metric] -> value (None when the scale has no such metric)
Scores = dict[str, dict[str, dict[str, float | None]]]
# items[comparison][arm][metric] -> {item id: value} (None when not kept)
Items = dict[str, dict[str, dict[str, dict[str, float] | None]]]


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


def beyond_noise(relations: list[Relation], items: dict[str, dict[str, float] | None], tol: float) -> tuple[str, str]:
    """``(differences, verdict)`` of a chain from item-level scores: each relation's paired
    difference with its 95% interval, and ``yes`` when every relation holds beyond that interval
    (``a > b``: the interval above 0; ``a >= b``: above ``-tol``; ``a ~ b``: inside ``±tol``), ``no``
    otherwise, ``n/a`` without item scores."""
    shown, holds = [], []
    for r in relations:
        a, b = items.get(r.left), items.get(r.right)
        if not a or not b:
            return "n/a", "n/a"
        mean, low, high, n = paired_difference_interval(a, b)
        shown.append(f"{r.left} - {r.right} = {mean:+.3f} [{low:+.3f}, {high:+.3f}], n={n}")
        holds.append(low > 0 if r.op == ">" else low > -tol if r.op == ">=" else -tol <= low and high <= tol)
    return "; ".join(shown), "yes" if all(holds) else "no"


def arm_rows(cmp: Comparison, scores: dict[str, dict[str, float | None]], intervals: dict | None, baselines: dict | None) -> list[str]:
    """One Markdown row per arm (each value with its 95% interval when known), then the chance and
    blind (no image) baselines of each metric (the same items for every arm)."""
    def cell(arm: str, m: str) -> str:
        ci = ((intervals or {}).get(arm) or {}).get(m)
        return fmt(scores[arm].get(m)) + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")

    rows = [f"| {arm} | " + " | ".join(cell(arm, m) for m in cmp.metrics) + " |" for arm in cmp.arms]
    for kind, label in (("chance", "chance"), ("blind", "blind (answer prior, no image)")):
        values = [next((v for arm in cmp.arms if (v := (((baselines or {}).get(arm) or {}).get(m) or {}).get(kind)) is not None), None)
                  for m in cmp.metrics]
        if any(v is not None for v in values):
            rows.append(f"| *{label}* | " + " | ".join("-" if v is None else f"{v:.3f}" for v in values) + " |")
    return rows


def markdown(title: str, command: str, comparisons: dict[str, Comparison], scores: Scores, tol: float,
             notes: dict[str, str] | None = None, chart: str | None = None, items: Items | None = None,
             intervals: dict | None = None, baselines: dict | None = None) -> str:
    """The whole report: a summary of verdicts (with paired 95% intervals of the differences when
    ``items`` has item-level scores), then one table of arms x metrics per comparison (each value
    with its 95% interval from ``intervals[comparison][arm][metric]``, and rows of the chance and
    blind baselines from ``baselines[comparison][arm][metric]``)."""
    lines = [f"# {title}", "", f"Made by: `{command}`", "",
             f"A direction 'a > b' agrees when a beats b by more than {tol:g}, disagrees when b beats a by more "
             f"than {tol:g}, and is inconclusive in between; 'a ~ b' agrees when they are within {tol:g}. "
             "'Beyond noise' asks the same of the 95% interval of the paired difference over the evaluation items "
             "(a bootstrap): 'a > b' holds beyond noise when the whole interval is above 0.", "",
             "| comparison | metric | paper | here | difference [95% CI] | beyond noise |", "|---|---|---|---|---|---|"]
    for name, cmp in comparisons.items():
        for metric, verdict in verdicts(cmp, scores[name], tol).items():
            arm_items = {arm: (items or {}).get(name, {}).get(arm, {}).get(metric) for arm in cmp.arms}
            diff, noise = beyond_noise(cmp.relations(metric), arm_items, tol)
            lines.append(f"| {name} | {metric} | {cmp.expect[metric]} | {verdict} | {diff} | {noise} |")
    if chart:
        lines += ["", f"![scores of every arm]({chart})"]
    for name, cmp in comparisons.items():
        lines += ["", f"## {name}", "", f"{cmp.finding} ({cmp.source})" if cmp.source else cmp.finding, "",
                  "| arm | " + " | ".join(cmp.metrics) + " |", "|---" * (len(cmp.metrics) + 1) + "|"]
        lines += arm_rows(cmp, scores[name], (intervals or {}).get(name), (baselines or {}).get(name))
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
