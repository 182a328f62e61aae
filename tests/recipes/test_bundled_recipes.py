"""The shipped recipes are found as package data (``vlmkit/recipes``), not through the source
checkout, so the demo and ``vlmkit ablate recipes/ablations/`` also work from an installed wheel
and from any working folder; a ``recipes/...`` path that exists where the user is still wins."""

from pathlib import Path

from conftest import RECIPES

import vlmkit
from vlmkit.cli import main
from vlmkit.config.bundled import bundled_recipes, find_recipe
from vlmkit.experiments.demo import default_recipe


def test_the_shipped_recipes_are_package_data_holding_every_recipe():
    shipped = bundled_recipes()
    assert Path(vlmkit.__file__).parent.joinpath("recipes").resolve() == shipped
    ours = sorted(p.relative_to(RECIPES).as_posix() for p in RECIPES.rglob("*.yaml"))
    assert sorted(p.relative_to(shipped).as_posix() for p in shipped.rglob("*.yaml")) == ours
    assert default_recipe(tiny=False) == shipped / "embedded.yaml"
    assert default_recipe(tiny=True) == shipped / "embedded_tiny.yaml"


def test_recipes_paths_resolve_to_the_shipped_ones_away_from_a_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_recipe("recipes/ablations/") == bundled_recipes() / "ablations"
    assert find_recipe("recipes/scales/tiny.yaml") == bundled_recipes() / "scales" / "tiny.yaml"
    assert find_recipe("recipes/nope.yaml") == Path("recipes/nope.yaml")  # the caller's error names it
    assert find_recipe("mine/embedded.yaml") == Path("mine/embedded.yaml")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "embedded.yaml").write_text("name: mine\n")
    assert find_recipe("recipes/embedded.yaml") == Path("recipes/embedded.yaml")  # the user's own file wins


def test_ablate_as_the_docs_write_it_runs_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["ablate", "recipes/ablations/", "--scale", "tiny", "--out", "out", "--dry-run"]) == 0
    assert "distinct runs" in capsys.readouterr().err
    assert list((tmp_path / "out" / "runs").glob("*/recipe.yaml"))  # every arm written and validated
