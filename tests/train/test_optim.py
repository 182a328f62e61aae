"""Optimizers: ``adamw`` is fused for a GPU (the same update as unfused), and equals Composer's
``decoupled_adamw`` when weight decay is 0 (why the VILA recipes may use either)."""

import copy

import pytest
import torch

from vlmkit.config import OptimizerConfig
from vlmkit.train.freezing import param_groups, set_trainable
from vlmkit.train.optim import build_optimizer
from train_helpers import tiny_batch, tiny_model


def trained(model, cfg: OptimizerConfig, device: str, steps: int = 3):
    """``model`` after ``steps`` optimizer steps on one batch; also the optimizer."""
    set_trainable(model, ["projector", "llm"])
    opt = build_optimizer(param_groups(model, cfg), cfg, device)
    batch = tiny_batch(model)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
        opt.step()
    return model, opt


def assert_same_weights(a, b) -> None:
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)


def test_adamw_for_a_gpu_is_fused_and_updates_like_the_unfused_one():
    torch.manual_seed(0)
    start = tiny_model()
    cfg = OptimizerConfig(name="adamw", lr=1e-2, weight_decay=0.1)
    unfused, opt_cpu = trained(copy.deepcopy(start), cfg, "cpu")
    fused, opt_gpu = trained(copy.deepcopy(start), cfg, "gpu")  # the fused kernel also runs on CPU tensors
    assert opt_gpu.defaults["fused"] is True and not opt_cpu.defaults["fused"]
    assert_same_weights(unfused, fused)
    moved = [not torch.equal(p, q) for p, q in zip(start.llm.parameters(), fused.llm.parameters())]
    assert any(moved)


@pytest.mark.parametrize("device", ["cpu", "gpu"])
def test_adamw_equals_decoupled_adamw_without_weight_decay(device):
    torch.manual_seed(0)
    start = tiny_model()
    ours, _ = trained(copy.deepcopy(start), OptimizerConfig(name="adamw", lr=1e-2), device)
    composer, _ = trained(copy.deepcopy(start), OptimizerConfig(name="decoupled_adamw", lr=1e-2), device)
    assert_same_weights(ours, composer)
