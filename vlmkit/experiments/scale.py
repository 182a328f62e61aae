"""Ablation scales: how an arm recipe written at VILA size runs at a smaller size.

A scale file (``recipes/scales/*.yaml``) is applied to each arm in three steps:

1. ``replace``: dotted paths swapped wholesale in the arm's *base* recipe (the VILA model parts and
   named datasets become the scale's components and data);
2. ``merge``: deep-merged on top (batch sizes, durations, learning rates, trainer, evaluation);
3. the arm's own keys (what the ablation changes) go on last, with ``translate`` mapping the
   values that mean something else at this scale (``{224: 96, 336: 128}``; ``null`` drops a key).

``metrics`` names what each abstract metric of the ablation manifest (vqa, fewshot, ...) reads from
the evaluation results at this scale.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vlmkit.config.loading import RecipeError, deep_merge, format_validation_error, read_yaml, resolve_bases
from vlmkit.experiments.paths import MISSING, get_path, set_path

ARM_META = ("name", "description")


class MetricSpec(BaseModel):
    """One abstract metric: ``score`` of the task ``task`` evaluated with ``shots`` examples."""

    model_config = ConfigDict(extra="forbid")
    task: str = Field(description="Registered evaluation task, as listed under the scale's eval.tasks.")
    shots: int = Field(0, ge=0)
    score: str = Field(description="Key of the task's scores, e.g. 'accuracy' or 'cider'.")


class Scale(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    description: str = ""
    replace: dict[str, Any] = Field(default_factory=dict)
    merge: dict[str, Any] = Field(default_factory=dict)
    translate: dict[str, dict[Any, Any]] = Field(default_factory=dict)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)


def load_scale(path: str | Path) -> Scale:
    path = Path(path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    try:
        return Scale.model_validate(data)
    except ValidationError as err:
        raise RecipeError(format_validation_error(err, Scale), str(path)) from None


def arm_parts(path: str | Path) -> tuple[dict, dict, dict]:
    """``(base, delta, meta)`` of an arm: its base recipe fully resolved, the keys the arm itself
    sets (what the ablation changes) and its name/description."""
    path = Path(path)
    data = read_yaml(path)
    base = data.pop("base", None)
    if not isinstance(base, str):
        raise RecipeError(["an ablation arm needs 'base: <recipe>' (one recipe) and only the keys the ablation changes"], str(path))
    meta = {k: data.pop(k) for k in ARM_META if k in data}
    meta.setdefault("name", path.stem)
    return resolve_bases(path.parent / base), data, meta


def translate(delta: dict, table: dict[str, dict[Any, Any]], scale_name: str) -> dict:
    """``delta`` with each value listed in ``table`` replaced by this scale's value (``None`` drops it)."""
    out = copy.deepcopy(delta)
    for path, mapping in table.items():
        value = get_path(out, path)
        if value is MISSING:
            continue
        if value not in mapping:
            known = ", ".join(map(str, mapping))
            raise RecipeError([f"{path}: the arm sets {value!r}, which scale {scale_name!r} does not map (maps: {known}); add it under translate"])
        set_path(out, path, mapping[value])
    return out


def apply_scale(base: dict, delta: dict, scale: Scale | None) -> dict:
    """The arm's recipe data at ``scale`` (``None``: the arm as written)."""
    if scale is None:
        return deep_merge(base, delta)
    data = copy.deepcopy(base)
    for path, value in scale.replace.items():
        set_path(data, path, value)
    data = deep_merge(data, scale.merge)
    return deep_merge(data, translate(delta, scale.translate, scale.name))
