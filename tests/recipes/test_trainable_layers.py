"""A stage's ``llm_trainable_layers``: only the LLM's last N decoder layers learn."""

import pytest

from vlmkit.config import RecipeError
from vlmkit.config.loading import validate_recipe
from vlmkit.model.vlm import build_vlm
from vlmkit.train.freezing import param_groups, set_trainable

MODEL = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama", "num_layers": 4}}


def trainable_names(module):
    return {n for n, p in module.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("count", [1, 2, 4])
def test_only_the_last_layers_of_the_llm_train(count):
    model = build_vlm(MODEL)
    flags = set_trainable(model, ["projector", "llm"], llm_layers=count)
    assert flags == {"vision_encoder": False, "projector": True, "llm": True}
    names = trainable_names(model.llm)
    layers = {n.split(".layers.")[1].split(".")[0] for n in names}
    assert layers == {str(i) for i in range(4 - count, 4)}
    assert all(".layers." in n for n in names)  # embeddings, final norm and head stay frozen
    assert trainable_names(model.projector) == {n for n, _ in model.projector.named_parameters()}
    groups = {g["part"]: g for g in param_groups(model, validate_stage().optimizer)}
    assert sum(p.numel() for p in groups["llm"]["params"]) == sum(p.numel() for n, p in model.llm.named_parameters() if n in names)


def test_a_frozen_llm_stays_frozen():
    model = build_vlm(MODEL)
    set_trainable(model, ["projector"], llm_layers=2)
    assert not trainable_names(model.llm)


def test_more_layers_than_the_llm_has_is_an_error():
    model = build_vlm(MODEL)
    with pytest.raises(ValueError, match="llm_trainable_layers is 5, but the LLM has 4 layers; use 1..4"):
        set_trainable(model, ["llm"], llm_layers=5)


def validate_stage(**extra):
    recipe = {"model": MODEL, "datasets": {"d": {"kind": "pairs", "remote": "/x"}},
              "stages": {"s": {"trainable": ["llm"], "mixture": "d", "optimizer": {"lr": 1e-3},
                               "global_batch_size": 2, "duration": "1ba", **extra}}, "name": "t"}
    return validate_recipe(recipe).stages["s"]


def test_the_recipe_key_is_validated():
    assert validate_stage(llm_trainable_layers=4).llm_trainable_layers == 4
    with pytest.raises(RecipeError, match="stages.s.llm_trainable_layers: Input should be greater than 0"):
        validate_stage(llm_trainable_layers=0)
