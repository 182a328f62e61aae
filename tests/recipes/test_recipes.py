"""Every shipped recipe validates and passes preflight (components and options exist), and ``vlmkit plan``
prints its plan (built on the meta device, no weights) with the image tokens its configuration implies."""

import pytest

from tests.recipes.conftest import RECIPES
from vlmkit.config import load_recipe
from vlmkit.preflight import preflight

NOT_RECIPES = {"ablations.yaml"}
FILES = sorted(p for p in [*RECIPES.glob("*.yaml"), *RECIPES.glob("ablations/*.yaml")] if p.name not in NOT_RECIPES)
# Image tokens per image in the LLM, from the paper's configurations.
TOKENS = {
    "vila7b.yaml": 576,  # CLIP ViT-L/14 at 336 px: 24 x 24 patches
    "vila13b.yaml": 576,
    "vila1.5-3b.yaml": 196,  # SigLIP at 384 px: 27 x 27, merged 2x2 (padded) -> 14 x 14
    "vila1.5-8b.yaml": 196,
    "res224.yaml": 256,  # 16 x 16
    "tokens_2x2.yaml": 144,  # 24 x 24 -> 12 x 12
    "embedded.yaml": 4,  # EfficientNet-Lite0 map pooled to 2 x 2
}


def ids(paths):
    return [str(p.relative_to(RECIPES)) for p in paths]


@pytest.mark.parametrize("path", FILES, ids=ids(FILES))
def test_recipe_validates_and_passes_preflight(path):
    recipe = load_recipe(path)
    preflight(recipe, check_data=False, source=str(path))


def check_plan(path, capsys):
    from vlmkit.cli import main

    assert main(["plan", str(path), "--world-size", "8"]) == 0
    out = capsys.readouterr().out
    recipe = load_recipe(path)
    for stage in recipe.stages:
        assert f"stage {stage}: 8 process(es)" in out
    for line in ("parameters:", "tokens per sample:", "FLOPs per sample:", "memory per device:"):
        assert out.count(line) == len(recipe.stages)
    if path.name in TOKENS:
        assert f"tokens per sample: {TOKENS[path.name]} image" in out


# Planned in the quick suite (one per architecture family); every other recipe is planned under slow.
QUICK = [RECIPES / "vila7b.yaml", RECIPES / "vila1.5-3b.yaml", RECIPES / "embedded.yaml"]
REST = [p for p in FILES if p not in QUICK]


@pytest.mark.parametrize("path", QUICK, ids=ids(QUICK))
def test_plan_prints_every_stage(path, capsys):
    check_plan(path, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("path", REST, ids=ids(REST))
def test_plan_prints_every_stage_of_every_other_recipe(path, capsys):
    check_plan(path, capsys)
