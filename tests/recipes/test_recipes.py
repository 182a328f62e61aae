"""Every shipped recipe validates, passes preflight (components and options exist) and builds on
the meta device with the token count its paper configuration implies; ``vlmkit plan`` prints a plan."""

import pytest
import yaml

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


def unique_models():
    """One recipe per distinct ``model:`` section (the ablation arms share most of them)."""
    seen = {}
    for path in FILES:
        key = yaml.safe_dump(load_recipe(path).model.model_dump(), sort_keys=True)
        seen.setdefault(key, path)
    return list(seen.values())


MODELS = unique_models()


@pytest.mark.parametrize("path", MODELS, ids=ids(MODELS))
def test_recipe_model_builds_without_weights(path):
    from vlmkit.model.vlm import build_vlm

    model = build_vlm(load_recipe(path).model, load_weights=False)
    if path.name in TOKENS:
        assert model.num_image_tokens == TOKENS[path.name]
    assert sum(p.numel() for p in model.parameters()) > 0
