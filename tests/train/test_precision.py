"""Precision and device: accepted combinations and one-line refusals."""

import pytest
import torch

from vlmkit.train.precision import resolve_precision


@pytest.mark.parametrize("precision, composer, autocast", [
    ("fp32", "fp32", None), ("bf16", "fp32", torch.bfloat16),
])
def test_cpu_precisions(precision, composer, autocast):
    plan = resolve_precision(precision, "cpu")
    assert (plan.composer, plan.autocast) == (composer, autocast)


@pytest.mark.parametrize("precision", ["amp_bf16", "amp_fp16"])
def test_gpu_only_precisions_are_refused_on_cpu_with_the_fix(precision):
    with pytest.raises(ValueError, match=rf"trainer.precision={precision} needs a GPU.*'bf16'"):
        resolve_precision(precision, "cpu")


@pytest.mark.parametrize("precision, composer", [("bf16", "amp_bf16"), ("amp_bf16", "amp_bf16"), ("amp_fp16", "amp_fp16"), ("fp32", "fp32")])
def test_gpu_precisions_map_to_composers(precision, composer):
    plan = resolve_precision(precision, "gpu", check_device=False)
    assert plan.composer == composer and plan.autocast is None
