"""What every conformance suite shares: building the component under test, the registry check,
the safetensors state-dict round trip and gradient bookkeeping."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import torch
from torch import nn

Factory = Callable[..., Any]


def seeded(seed: int, make: Callable[[], Any]) -> Any:
    """``make()`` under ``torch.manual_seed(seed)`` without disturbing the caller's RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def grads(module: nn.Module) -> dict[str, torch.Tensor | None]:
    return {name: p.grad for name, p in module.named_parameters()}


class Conformance:
    """Base of the conformance suites. Subclass one of the concrete suites, name the subclass
    ``Test...`` so pytest collects it, and set:

    - ``factory``: the component's factory (class or function), or its registered name.
    - ``kwargs``: options passed to the factory (a recipe's component options).
    - ``registered_name``: the name the registry must resolve to ``factory`` (not needed when
      ``factory`` is itself a registered name).
    """

    kind: ClassVar[str] = ""
    factory: ClassVar[Factory | str | None] = None
    kwargs: ClassVar[dict[str, Any]] = {}
    registered_name: ClassVar[str | None] = None
    #: Tolerance for outputs that must agree (batching, reloading).
    atol: ClassVar[float] = 1e-5

    def resolve_factory(self) -> Factory:
        from vlmkit.registry import registries

        factory = type(self).factory
        if factory is None:
            raise TypeError(f"{type(self).__name__}: set 'factory' to your component's factory or registered name")
        if isinstance(factory, str):
            return registries().kind(self.kind).get(factory)
        return factory

    def test_registered_name_resolves(self) -> None:
        from vlmkit.registry import registries

        factory = type(self).factory  # through the class: a plain function factory stays unbound
        name = self.registered_name or (factory if isinstance(factory, str) else None)
        assert name is not None, f"{type(self).__name__}: set registered_name to the name your plugin registers"
        registry = registries().kind(self.kind)
        assert name in registry, registry.unknown_message(name)
        if not isinstance(factory, str):
            assert registry.get(name) is factory, f"{self.kind}: {name!r} resolves to {registry.get(name)!r}, not {factory!r}"


class ModuleConformance(Conformance):
    """Checks shared by every ``nn.Module`` component: weights round-trip through safetensors,
    frozen parameters stay frozen, trainable ones get finite gradients."""

    #: Whether some trainable parameters may legitimately get no gradient (e.g. a vision tower whose
    #: last layer is skipped by ``select_layer=-2``).
    unused_parameters_allowed: ClassVar[bool] = True

    def arguments(self) -> dict[str, Any]:
        """The kind's build-protocol arguments to build with (see :mod:`vlmkit.model.build`)."""
        return {}

    def make(self, seed: int = 0, **overrides: Any) -> nn.Module:
        """Build the component under test through the build protocol, from ``arguments()`` and
        ``kwargs`` (``overrides`` replace either), without pretrained weights unless asked."""
        from vlmkit.model.build import BuildContext, call_factory, protocol

        args = {**self.arguments(), **self.kwargs, **overrides}
        built = {k: args.pop(k) for k in list(args) if k in protocol(self.kind).arguments}
        context = BuildContext.from_arguments(self.kind, built, load_weights=False)
        return seeded(seed, lambda: call_factory(self.kind, self.resolve_factory(), args, context))

    def sample_inputs(self, seed: int, requires_grad: bool = False) -> Any:
        raise NotImplementedError

    def run(self, module: nn.Module, inputs: Any) -> torch.Tensor:
        raise NotImplementedError

    def assert_batch_independent(self, module: nn.Module, x: torch.Tensor) -> None:
        """Row ``i`` of ``module(x)`` equals ``module(x[i:i+1])``: no mixing across the batch."""
        with torch.no_grad():
            together = module(x)
            alone = torch.cat([module(x[i : i + 1]) for i in range(x.shape[0])])
        torch.testing.assert_close(together, alone, atol=self.atol, rtol=1e-4)

    def test_state_dict_round_trips(self, tmp_path) -> None:
        """Weights saved as safetensors and loaded into a differently seeded build give the same outputs."""
        from vlmkit.storage.weights import load_weights, save_weights

        a, b = self.make(seed=0).eval(), self.make(seed=1).eval()
        save_weights(a, tmp_path / "weights.safetensors")
        load_weights(b, tmp_path / "weights.safetensors")
        reloaded = b.state_dict()
        for key, value in a.state_dict().items():
            assert torch.equal(value, reloaded[key]), f"{key} differs after reloading"
        inputs = self.sample_inputs(seed=2)
        with torch.no_grad():
            torch.testing.assert_close(self.run(a, inputs), self.run(b, inputs), atol=self.atol, rtol=0)

    def test_frozen_parameters_get_no_gradient(self) -> None:
        """After ``requires_grad_(False)`` no parameter receives a gradient and none is re-enabled."""
        module = self.make(seed=0)
        module.requires_grad_(False)
        module.train()
        inputs = self.sample_inputs(seed=1, requires_grad=True)
        out = self.run(module, inputs)
        if out.requires_grad:
            out.float().square().mean().backward()
        flipped = [n for n, p in module.named_parameters() if p.requires_grad]
        assert not flipped, f"parameters re-enabled requires_grad during forward: {flipped[:5]}"
        got = [n for n, g in grads(module).items() if g is not None]
        assert not got, f"frozen parameters received gradients: {got[:5]}"

    def test_trainable_parameters_get_finite_gradients(self) -> None:
        module = self.make(seed=0).train()
        inputs = self.sample_inputs(seed=1)
        self.run(module, inputs).float().square().mean().backward()
        named = grads(module)
        assert any(g is not None for g in named.values()), "no parameter received a gradient"
        bad = [n for n, g in named.items() if g is not None and not torch.isfinite(g).all()]
        assert not bad, f"non-finite gradients: {bad[:5]}"
        if not self.unused_parameters_allowed:
            unused = [n for n, g in named.items() if g is None]
            assert not unused, (
                f"parameters unused by forward (they break DDP; set unused_parameters_allowed = True "
                f"if this is intended): {unused[:5]}"
            )
