"""Gradient clipping (a stage's ``max_grad_norm``) and the grad norm logged each step."""

from types import SimpleNamespace

import pytest
import torch
from composer.core import Callback
from hypothesis import given, settings, strategies as st

from vlmkit.train.grad_norm import GradNorm
from vlmkit.storage.layout import read_history
from vlmkit.train.stages import build_stage_model
from vlmkit.testing.synthetic import synthetic_factory
from vlmkit.train.trainer import build_stage, finish_stage
from train_helpers import make_recipe, stage

DATA = synthetic_factory(num_rows=64)


def total_norm(params) -> float:
    return float(torch.cat([p.grad.flatten() for p in params if p.grad is not None]).norm())


@settings(max_examples=40, deadline=None)
@given(scales=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=4), max_norm=st.one_of(st.none(), st.floats(1e-2, 1e2)))
def test_measures_the_global_norm_and_clips_to_max(scales, max_norm):
    torch.manual_seed(0)
    model = torch.nn.ModuleList([torch.nn.Linear(3, 2) for _ in scales] + [torch.nn.Linear(2, 2)])
    for layer, scale in zip(model, scales):
        for p in layer.parameters():
            p.grad = torch.randn_like(p) * scale  # the last layer is frozen: no grad
    before = total_norm(model.parameters())
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    clip = GradNorm(max_norm)
    clip.after_train_batch(SimpleNamespace(model=model), None)
    assert clip.value() == pytest.approx(before, rel=1e-5)
    after = total_norm(model.parameters())
    assert after == pytest.approx(min(before, max_norm or before), rel=1e-4)
    for g, p in zip(grads, (p for p in model.parameters() if p.grad is not None)):  # one factor for all
        torch.testing.assert_close(p.grad, g * (after / before), rtol=1e-4, atol=1e-7)


def test_non_positive_max_is_refused():
    with pytest.raises(ValueError, match="max_grad_norm must be positive"):
        GradNorm(0.0)


class NormAtStep(Callback):
    """The gradients' norm the optimizer will see (runs after the clipping callback)."""

    def __init__(self):
        self.norms = []

    def after_train_batch(self, state, logger):
        self.norms.append(total_norm(state.model.parameters()))


@pytest.mark.parametrize("max_grad_norm", [None, 0.05])
def test_trainer_clips_before_the_step_and_logs_the_norm(tmp_path, max_grad_norm):
    recipe = make_recipe(tmp_path, stages={"s": stage(["projector", "llm"], batches=3, microbatch_size=4, max_grad_norm=max_grad_norm)},
                         loggers={"file": {}})
    run = build_stage(recipe, "s", build_stage_model(recipe, "s"), DATA)
    seen = NormAtStep()
    run.trainer.state.callbacks.append(seen)
    run.trainer.fit()
    finish_stage(run, 0.0)
    logged = [r["grad_norm"] for r in read_history(tmp_path, ["s"])]
    assert len(logged) == 3 and all(n > 0.05 for n in logged)  # the norm before clipping
    expected = [min(n, max_grad_norm or n) for n in logged]
    assert seen.norms == pytest.approx(expected, rel=1e-4)
    log = (tmp_path / "s" / "log-rank0.txt").read_text()  # the loggers get it too
    assert all(f"[metric][batch={i}]: train/grad_norm: {n:.4f}" in log for i, n in enumerate(logged, 1))


# Under FSDP2 (two processes): tests/train/test_lora_and_options.py::test_lora_and_clipping_under_fsdp2_two_processes_match_one
