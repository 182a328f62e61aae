"""The optimizer and scheduler conformance suites applied to the built-ins."""

import pytest

from vlmkit.testing import OptimizerConformance, SchedulerConformance
from vlmkit.train import optim


class TestDecoupledAdamW(OptimizerConformance):
    factory = optim.decoupled_adamw
    registered_name = "decoupled_adamw"
    options = {"weight_decay": 0.01}


class TestAdamW(OptimizerConformance):
    factory = "adamw"


class TestDecoupledSGDW(OptimizerConformance):
    factory = "decoupled_sgdw"


@pytest.mark.parametrize("name", ["cosine_with_warmup", "linear_with_warmup", "constant_with_warmup"])
def test_builtin_schedulers_conform(name):
    suite = type("Suite", (SchedulerConformance,), {"factory": name, "options": {"warmup": "0.2dur"}})()
    suite.test_registered_name_resolves()
    suite.test_multiplier_is_finite_and_non_negative()
    suite.test_multiplier_depends_only_on_the_time()


def test_plan_counts_each_builtin_optimizers_state():
    from vlmkit.config import OptimizerConfig

    counts = {n: optim.state_tensors(OptimizerConfig(name=n, lr=1e-3)) for n in ("decoupled_adamw", "adamw", "decoupled_sgdw")}
    assert counts == {"decoupled_adamw": 2, "adamw": 2, "decoupled_sgdw": 1}
