"""Yes/no benchmarks: POPE (LLaVA's ``eval_pope.py``) and MME (MME's ``eval_tool/calculation.py``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping, Sequence

MME_PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR")
MME_COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")


def pope_parse(text: str) -> str:
    """``"yes"`` or ``"no"`` by LLaVA-1.5's ``eval_pope.py`` rule (also VILA's).

    Keep the text before the first ``.``, delete commas, split on single spaces; the answer is
    ``"no"`` if one of the words is exactly ``No``, ``no`` or ``not``, else ``"yes"`` (so an empty
    or off-topic reply counts as yes, and ``"NO"`` as yes).
    """
    first = text.split(".")[0] if "." in text else text
    words = first.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def pope_metrics(predictions: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """POPE scores of parsed predictions against labels (both ``"yes"``/``"no"``; as in
    ``eval_pope.py`` anything but ``"no"`` counts as yes).

    Returns ``accuracy``, ``precision``, ``recall``, ``f1``, ``yes_ratio`` and the counts ``tp``,
    ``fp``, ``tn``, ``fn``. Where the reference would divide by zero (no positive predictions or
    labels) the ratio is 0.0.
    """
    if len(predictions) != len(labels):
        raise ValueError(f"POPE needs one prediction per label: got {len(predictions)} predictions and {len(labels)} labels")
    if not labels:
        raise ValueError("POPE metrics need at least one prediction")
    pred = [p != "no" for p in predictions]
    gold = [g != "no" for g in labels]
    tp = sum(p and g for p, g in zip(pred, gold))
    fp = sum(p and not g for p, g in zip(pred, gold))
    tn = sum(not p and not g for p, g in zip(pred, gold))
    fn = sum(not p and g for p, g in zip(pred, gold))
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    return {
        "accuracy": (tp + tn) / len(labels),
        "precision": precision,
        "recall": recall,
        "f1": _safe_div(2 * precision * recall, precision + recall),
        "yes_ratio": sum(pred) / len(pred),
        "tp": tp, "fp": fp, "tn": tn, "fn": fn,
    }


def mme_parse(text: str) -> str:
    """``"yes"``, ``"no"`` or ``"other"`` by MME's ``calculation.py`` (``parse_pred_ans``).

    The reply is lowercased (``process_result`` does this first); exactly ``yes``/``no`` is taken
    as is, otherwise the first four characters decide: containing ``yes`` -> yes, else containing
    ``no`` -> no, else other (``"Not sure"`` is "no"; ``"The answer is yes"`` is "other").
    """
    text = text.lower()
    if text in ("yes", "no"):
        return text
    head = text[:4]
    if "yes" in head:
        return "yes"
    return "no" if "no" in head else "other"


def mme_scores(rows: Iterable[Mapping[str, str]]) -> dict:
    """MME scores from rows ``{"category", "image", "label", "prediction"}`` (raw reply text).

    Per category: ``acc`` (share of questions right; "other" is wrong), ``acc_plus`` (share of
    images whose questions -- two per image in MME -- are all right) and ``score`` =
    ``100 * (acc + acc_plus)``, as ``calculation.py`` computes them. ``perception`` and
    ``cognition`` sum the scores of the categories present from each group; ``total`` adds them.
    """
    by_category: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        label = str(row["label"]).lower()
        if label not in ("yes", "no"):
            raise ValueError(f"MME labels are 'yes' or 'no', got {row['label']!r} for image {row['image']!r}")
        by_category[row["category"]][row["image"]].append(mme_parse(str(row["prediction"])) == label)
    categories = {}
    for name, images in sorted(by_category.items()):
        hits = [h for answers in images.values() for h in answers]
        acc = sum(hits) / len(hits)
        acc_plus = sum(all(a) for a in images.values()) / len(images)
        categories[name] = {"acc": acc, "acc_plus": acc_plus, "score": 100 * (acc + acc_plus)}
    perception = sum(v["score"] for k, v in categories.items() if k in MME_PERCEPTION)
    cognition = sum(v["score"] for k, v in categories.items() if k in MME_COGNITION)
    return {"categories": categories, "perception": perception, "cognition": cognition, "total": perception + cognition}
