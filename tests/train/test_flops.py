"""The analytic training-FLOPs formula against FLOPs counted on real training steps."""

import pytest
import torch

from vlmkit.model.vlm import build_vlm
from vlmkit.train.flops import counted_flops, flop_model, multipliers
from vlmkit.train.freezing import set_trainable
from train_helpers import tiny_batch

MODEL_CFG = {
    "vision_encoder": {"name": "tiny_vit", "image_size": 16},
    "projector": {"name": "mlp"},
    "llm": {"name": "tiny_llama", "hidden_size": 128, "intermediate_size": 256},
}


def test_multipliers_follow_the_data_flow():
    assert multipliers({"projector": True}) == {"vision_encoder": 1, "projector": 3, "llm": 2}
    assert multipliers({"llm": True}) == {"vision_encoder": 1, "projector": 1, "llm": 3}
    assert multipliers({"vision_encoder": True}) == {"vision_encoder": 3, "projector": 2, "llm": 2}


@pytest.mark.parametrize("trainable", [["projector"], ["projector", "llm"], ["llm"], ["vision_encoder", "projector", "llm"]])
def test_formula_matches_counted_training_flops(trainable):
    torch.manual_seed(0)
    model = build_vlm(MODEL_CFG)
    set_trainable(model, trainable)
    batch = tiny_batch(model, rows=3, seq_len=64, images_per_sample=2)
    predicted = flop_model(model).batch_flops(batch)
    measured, _ = counted_flops(lambda: model(**batch).loss.backward())
    assert predicted == pytest.approx(measured, rel=0.02)


def test_frozen_encoder_costs_forward_only():
    torch.manual_seed(0)
    model = build_vlm(MODEL_CFG)
    set_trainable(model, ["projector"])
    fm = flop_model(model)
    images = 5
    assert fm.train_flops(1, 8, images) - fm.train_flops(1, 8, 0) == pytest.approx(
        images * (fm.vision_per_image + 3 * fm.projector_per_image))


def test_meta_model_gives_the_same_counts():
    torch.manual_seed(0)
    real = flop_model(build_vlm(MODEL_CFG))
    with torch.device("meta"):
        meta = flop_model(build_vlm(MODEL_CFG, load_weights=False))
    assert meta == real


@pytest.mark.parametrize("trainable, last", [(["llm"], 1), (["projector", "llm"], 1)])
def test_formula_follows_llm_trainable_layers(trainable, last):
    torch.manual_seed(0)
    model = build_vlm({**MODEL_CFG, "llm": {**MODEL_CFG["llm"], "num_layers": 3}})
    set_trainable(model, trainable, llm_layers=last)
    batch = tiny_batch(model, rows=2, seq_len=64, images_per_sample=1)
    fm = flop_model(model)
    measured, _ = counted_flops(lambda: model(**batch).loss.backward())
    assert fm.batch_flops(batch) == pytest.approx(measured, rel=0.02)
    assert fm.llm_grad_layers == (1 if trainable == ["llm"] else 3)


@pytest.mark.parametrize("trainable", [["projector"], ["projector", "llm"]])
def test_formula_matches_counted_flops_with_logits_at_targets_only(trainable):
    torch.manual_seed(0)
    model = build_vlm(MODEL_CFG)
    set_trainable(model, trainable)
    batch = tiny_batch(model, rows=3, seq_len=64, images_per_sample=2)
    batch["labels"][:, :40] = -100  # targets only near the end: most positions need no logits
    fm = flop_model(model)
    measured, _ = counted_flops(lambda: model(**batch, targets_only=True).loss.backward())
    assert fm.batch_flops(batch, model.image_token_id) == pytest.approx(measured, rel=0.02)
    assert fm.batch_flops(batch, model.image_token_id) < 0.95 * fm.batch_flops(batch)
