"""Per-stage freezing and per-part parameter groups."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

from vlmkit.config import OptimizerConfig
from vlmkit.train.freezing import PARTS, count_parameters, keep_frozen_in_eval, param_groups, set_trainable
from vlmkit.train.optim import build_optimizer
from train_helpers import tiny_batch, tiny_model

MODEL = tiny_model()
subsets = st.lists(st.sampled_from(PARTS), min_size=1, max_size=3, unique=True)


@settings(max_examples=15, deadline=None)
@given(trainable=subsets, mult=st.floats(0.01, 10))
def test_groups_hold_exactly_the_trainable_parts(trainable, mult):
    flags = set_trainable(MODEL, trainable)
    assert flags == {p: p in trainable for p in PARTS}
    cfg = OptimizerConfig(lr=1e-3, lr_multipliers={trainable[0]: mult})
    groups = param_groups(MODEL, cfg)
    assert {g["part"] for g in groups} == set(trainable)
    for g in groups:
        part = getattr(MODEL, g["part"])
        assert {id(p) for p in g["params"]} == {id(p) for p in part.parameters()}
        assert g["lr"] == pytest.approx(1e-3 * (mult if g["part"] == trainable[0] else 1.0))
    expected = sum(count_parameters(getattr(MODEL, p)) for p in trainable)
    assert count_parameters(MODEL, trainable_only=True) == expected


def test_frozen_parts_get_no_gradient_and_no_optimizer_state():
    model = tiny_model()
    set_trainable(model, ["projector"])
    opt = build_optimizer(param_groups(model, OptimizerConfig(lr=1e-2)), OptimizerConfig(lr=1e-2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model(**tiny_batch(model)).loss.backward()
    opt.step()
    assert all(p.grad is None for p in model.llm.parameters())
    assert all(p.grad is None for p in model.vision_encoder.parameters())
    with_state = {id(p) for p in opt.state}
    assert with_state == {id(p) for p in model.projector.parameters()}
    after = model.state_dict()
    changed = {k.split(".")[0] for k in after if not torch.equal(after[k], before[k])}
    assert changed == {"projector"}


def test_multiplier_on_a_frozen_part_is_an_error():
    set_trainable(MODEL, ["projector"])
    with pytest.raises(ValueError, match=r"lr_multipliers names \['llm'\].*frozen"):
        param_groups(MODEL, OptimizerConfig(lr=1e-3, lr_multipliers={"llm": 0.1}))


def test_unknown_part_is_an_error():
    with pytest.raises(ValueError, match="not parts of the model"):
        set_trainable(MODEL, ["mm_projector"])


def test_frozen_parts_stay_in_eval_mode():
    set_trainable(MODEL, ["projector"])
    MODEL.train()
    keep_frozen_in_eval(MODEL)
    assert MODEL.projector.training
    assert not MODEL.llm.training and not MODEL.vision_encoder.training
