"""Conformance suites for optimizer and scheduler plugins (contracts: :mod:`vlmkit.train.optim`)."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch
from torch import nn

from vlmkit.testing.base import Conformance, seeded

GROUP_LRS = (1e-2, 2.5e-3)  # the two parameter groups' learning rates (a part's lr multiplier of 0.25)


def two_layer_net() -> nn.Module:
    """``[B, 4] -> [B, 3]``, plus a frozen ``bias_table`` that no group holds."""
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    net.register_parameter("bias_table", nn.Parameter(torch.randn(3), requires_grad=False))
    return net


def loss_of(net: nn.Module, seed: int) -> torch.Tensor:
    x = seeded(seed, lambda: torch.randn(8, 4))
    return (net(x) + net.bias_table).square().mean()


class OptimizerConformance(Conformance):
    """Checks an optimizer factory ``factory(groups, cfg, device)``: a ``torch.optim.Optimizer``
    over exactly the groups given, with their learning rates; steps move the grouped parameters
    only; its state is what ``vlmkit plan`` counts (full-size tensors per parameter, plus scalars);
    and a state dict resumes it exactly. ``options`` are the recipe's ``optimizer:`` keys. Example::

        class TestLion(OptimizerConformance):
            factory = lion
            registered_name = "acme_lion"
            options = {"lr": 1e-4, "betas": (0.9, 0.99)}
    """

    kind: ClassVar[str] = "optimizers"
    options: ClassVar[dict[str, Any]] = {}

    def config(self) -> Any:
        from vlmkit.config import OptimizerConfig

        factory = type(self).factory
        name = self.registered_name or (factory if isinstance(factory, str) else None)
        return OptimizerConfig(**{"name": name, "lr": GROUP_LRS[0], **self.options})

    def make(self, net: nn.Module) -> torch.optim.Optimizer:
        first, second = net[0], net[2]
        groups = [{"params": list(first.parameters()), "lr": GROUP_LRS[0]}, {"params": list(second.parameters()), "lr": GROUP_LRS[1]}]
        return self.resolve_factory()(groups, self.config(), "cpu")

    def stepped(self, steps: int, net: nn.Module | None = None, optimizer: Any = None) -> tuple[nn.Module, Any]:
        net = net if net is not None else seeded(0, two_layer_net)
        optimizer = optimizer if optimizer is not None else self.make(net)
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss_of(net, seed=step).backward()
            optimizer.step()
        return net, optimizer

    def test_is_an_optimizer_over_the_groups(self) -> None:
        net = seeded(0, two_layer_net)
        optimizer = self.make(net)
        assert isinstance(optimizer, torch.optim.Optimizer), f"the factory returned {type(optimizer).__name__}, not a torch.optim.Optimizer"
        got = [([id(p) for p in g["params"]], g["lr"]) for g in optimizer.param_groups]
        want = [([id(p) for p in layer.parameters()], lr) for layer, lr in zip((net[0], net[2]), GROUP_LRS)]
        assert got == want, "the optimizer must keep the groups it is given, each with its own 'lr' (lr_multipliers)"

    def test_steps_move_only_the_grouped_parameters(self) -> None:
        start = seeded(0, two_layer_net)
        net, _ = self.stepped(3, copy.deepcopy(start))
        for (name, before), after in zip(start.named_parameters(), net.parameters()):
            assert torch.isfinite(after).all(), f"{name} is not finite after 3 steps"
            moved = not torch.equal(before, after)
            assert moved == before.requires_grad, f"{name} {'did not move' if before.requires_grad else 'moved but is in no group'}"

    def test_state_is_what_plan_counts(self) -> None:
        from vlmkit.train.optim import state_tensors

        net, optimizer = self.stepped(2)
        counted = state_tensors(self.config())
        for name, p in net.named_parameters():
            state = optimizer.state.get(p, {})
            full = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.shape == p.shape]
            other = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.shape != p.shape and v.numel() > 1]
            assert not other, f"{name}: state {other} is neither full-size nor a scalar; vlmkit plan cannot count it"
            if p.requires_grad:
                assert len(full) == counted, f"{name} keeps {len(full)} full-size state tensors {full}, plan counts {counted}"

    def test_state_dict_resumes_exactly(self) -> None:
        """Two steps, a save, a fresh optimizer loading it: the next step equals an uninterrupted run."""
        net, optimizer = self.stepped(2)
        resumed_net = copy.deepcopy(net)
        resumed = self.make(resumed_net)
        resumed.load_state_dict(copy.deepcopy(optimizer.state_dict()))
        self.stepped(1, net, optimizer)
        self.stepped(1, resumed_net, resumed)
        for (name, p), q in zip(net.named_parameters(), resumed_net.parameters()):
            assert torch.equal(p, q), f"{name} differs after resuming from the optimizer's state dict"


class SchedulerConformance(Conformance):
    """Checks a scheduler factory ``factory(cfg)``: a Composer scheduler whose learning-rate
    multiplier is finite and non-negative at every batch of a run and depends only on the time
    (so a resumed run follows the same schedule). ``options`` are the recipe's ``scheduler:`` keys."""

    kind: ClassVar[str] = "schedulers"
    options: ClassVar[dict[str, Any]] = {}
    batches: ClassVar[int] = 20

    def make(self) -> Any:
        from vlmkit.config import SchedulerConfig

        factory = type(self).factory
        name = self.registered_name or (factory if isinstance(factory, str) else None)
        return self.resolve_factory()(SchedulerConfig(**{"name": name, **self.options}))

    def multipliers(self, scheduler: Any, order: list[int]) -> dict[int, float]:
        from composer.core import State, Time
        from composer.devices import DeviceCPU

        state = State(model=nn.Linear(1, 1), rank_zero_seed=0, run_name="conformance", device=DeviceCPU(), max_duration=f"{self.batches}ba")
        out = {}
        for batch in order:
            state.timestamp = state.timestamp.copy(batch=Time.from_batch(batch))
            out[batch] = float(scheduler(state))
        return out

    def test_multiplier_is_finite_and_non_negative(self) -> None:
        values = self.multipliers(self.make(), list(range(self.batches)))
        bad = {b: v for b, v in values.items() if not (v >= 0 and v < float("inf"))}
        assert not bad, f"learning-rate multipliers must be finite and >= 0, got {bad}"

    def test_multiplier_depends_only_on_the_time(self) -> None:
        forward = self.multipliers(self.make(), list(range(self.batches)))
        backward = self.multipliers(self.make(), list(reversed(range(self.batches))))
        assert forward == backward, "the multiplier must be a function of the time alone (a resumed run restarts mid-schedule)"
