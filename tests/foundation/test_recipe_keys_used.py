"""Every recipe key does what it says: a declared field that no library code reads fails here, and
the keys that once did nothing (dataset weights, eval.max_new_tokens, trainer.log_interval,
data.pack_buffer) are shown to work or to be refused."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

import vlmkit
from vlmkit.config import RecipeError, load_recipe, parse_mixture
from vlmkit.config.models import Recipe

ROOT = Path(vlmkit.__file__).parent
RECIPES = ROOT.parent / "recipes"
# Too common to find by name; each is read where its section is used (shown by the tests named).
GENERIC = {
    "name",       # every component/dataset/task/optimizer is built by name (tests/model, tests/train/test_optim.py)
    "options",    # component and task options (tests/model/test_registered.py, tests/eval)
    "weight",     # test_a_bare_dataset_name_mixes_by_its_weight below
    "kind", "split", "local", "remote", "description", "seed", "device", "shuffle",
}


def _models(model: type[BaseModel], seen: set) -> typing.Iterator[tuple[type[BaseModel], str]]:
    if model in seen:
        return
    seen.add(model)
    for field, info in model.model_fields.items():
        yield model, field
        for arg in _flatten(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from _models(arg, seen)


def _flatten(tp) -> typing.Iterator:
    yield tp
    for arg in typing.get_args(tp):
        yield from _flatten(arg)


def _names_read() -> set[str]:
    """Attribute names and string constants used anywhere in the library outside the recipe models."""
    found = set()
    for path in ROOT.rglob("*.py"):
        if path == ROOT / "config" / "models.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                found.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_every_declared_recipe_field_is_read_somewhere():
    read = _names_read()
    unread = sorted(f"{m.__name__}.{f}" for m, f in _models(Recipe, set()) if f not in read and f not in GENERIC)
    assert not unread, f"recipe fields declared but read nowhere in vlmkit: {unread}"


def test_a_bare_dataset_name_mixes_by_its_weight():
    recipe = load_recipe(RECIPES / "tiny.yaml", ["datasets.pairs.weight=5", "stages.align.mixture=pairs+text"])
    assert parse_mixture(recipe.stages["align"].mixture, recipe.datasets) == pytest.approx({"pairs": 5 / 6, "text": 1 / 6})
    # an explicit repeat count wins over the weight
    assert parse_mixture("pairs*1+text", recipe.datasets) == pytest.approx({"pairs": 0.5, "text": 0.5})


def test_the_removed_pack_buffer_is_refused_with_what_to_do():
    with pytest.raises(RecipeError, match="pack_buffer was removed.*delete data.pack_buffer"):
        load_recipe(RECIPES / "tiny.yaml", ["data.pack_buffer=64"])


def test_eval_max_new_tokens_caps_every_task(tmp_path, monkeypatch):
    import json

    from vlmkit.eval import harness
    from vlmkit.experiments.runs import evaluate_model
    from vlmkit.model.vlm import build_vlm

    asked = []
    real = harness.generate
    monkeypatch.setattr(harness, "generate", lambda model, ids, images=None, config=None, **kw: asked.append(config.max_new_tokens) or real(model, ids, images, config, **kw))
    tasks = "eval.tasks=[{name: easy_vqa, limit: 4}, {name: embedded_text, limit: 2}]"
    recipe = load_recipe(RECIPES / "tiny.yaml", [f"trainer.run_dir={tmp_path}", "eval.max_new_tokens=3", tasks])
    model = build_vlm(recipe.model)
    evaluate_model(lambda: model, recipe, tmp_path / "eval", lambda m: None, weights="w")
    assert asked and set(asked) == {3}  # every task, every batch
    assert json.loads((tmp_path / "eval" / "easy_vqa.json").read_text())["record"]["max_new_tokens"] == 3
    unset = load_recipe(RECIPES / "tiny.yaml", [f"trainer.run_dir={tmp_path / 'u'}", tasks])
    assert unset.eval.max_new_tokens is None
    asked.clear()
    evaluate_model(lambda: model, unset, tmp_path / "u", lambda m: None, weights="w")
    assert set(asked) == {4, 24}  # each task's own (easy_vqa 4, embedded_text 24)


def test_log_interval_reaches_composers_console_when_the_bar_is_off(tmp_path):
    from composer.loggers import ConsoleLogger

    from vlmkit.train.stages import build_stage_model
    from vlmkit.train.trainer import build_stage

    recipe = load_recipe(RECIPES / "tiny.yaml", [f"trainer.run_dir={tmp_path}", "trainer.progress_bar=false", "trainer.log_interval=3ba"])
    run = build_stage(recipe, "align", build_stage_model(recipe, "align"), lambda *a: [])
    consoles = [d for d in run.trainer.logger.destinations if isinstance(d, ConsoleLogger)]
    assert len(consoles) == 1 and consoles[0].log_interval.value == 3
    run.trainer.close()
