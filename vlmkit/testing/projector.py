"""Conformance suite for :class:`~vlmkit.model.projectors.base.Projector` plugins."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from vlmkit.model.projectors.base import Projector
from vlmkit.testing.base import ModuleConformance, seeded
from vlmkit.testing.tiny_vlm import DEFAULT_PARTNERS, build_partner, check_in_tiny_vlm


class ProjectorConformance(ModuleConformance):
    """Checks a projector factory ``factory(in_dim=, out_dim=, num_input_tokens=, grid=, **kwargs)``.

    ``shapes`` lists the ``(num_input_tokens, grid)`` inputs to check; each must give
    ``[N, output_tokens(...), out_dim]`` from ``[N, num_input_tokens, in_dim]`` (``in_dim`` and
    ``out_dim`` are class attributes too). The tiny-VLM check uses ``vision_partner`` and
    ``llm_partner``, specs ``{"name": registered_name, **options}``. Example::

        class TestMyProjector(ProjectorConformance):
            factory = MyProjector
            kwargs = {"depth": 2}
            registered_name = "my_projector"
    """

    kind: ClassVar[str] = "projectors"
    in_dim: ClassVar[int] = 24
    out_dim: ClassVar[int] = 40
    shapes: ClassVar[tuple[tuple[int, tuple[int, int] | None], ...]] = ((16, (4, 4)), (36, (6, 6)), (24, (4, 6)))
    unused_parameters_allowed: ClassVar[bool] = False
    #: Partner components for the tiny-VLM check (registered names and options).
    vision_partner: ClassVar[dict[str, Any]] = DEFAULT_PARTNERS["vision_encoders"]
    llm_partner: ClassVar[dict[str, Any]] = DEFAULT_PARTNERS["llms"]

    def arguments(self) -> dict[str, Any]:
        tokens, grid = self.shapes[0]
        return {"in_dim": self.in_dim, "out_dim": self.out_dim, "num_input_tokens": tokens, "grid": grid}

    def sample_inputs(self, seed: int, requires_grad: bool = False, tokens: int | None = None) -> torch.Tensor:
        tokens = tokens or self.shapes[0][0]
        x = seeded(seed, lambda: torch.randn(3, tokens, self.in_dim))
        return x.requires_grad_(requires_grad)

    def run(self, module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        return module(inputs)

    def test_is_a_projector(self) -> None:
        p = self.make()
        assert isinstance(p, Projector), f"{type(p).__name__} must subclass vlmkit.Projector"
        tokens, grid = self.shapes[0]
        assert (p.in_dim, p.out_dim, p.num_input_tokens, p.grid) == (self.in_dim, self.out_dim, tokens, grid), (
            "pass in_dim, out_dim, num_input_tokens and grid to Projector.__init__"
        )

    def test_declared_token_counts_hold(self) -> None:
        """For every shape: ``num_output_tokens`` == ``output_tokens(...)`` == tokens actually produced."""
        for tokens, grid in self.shapes:
            p = self.make(num_input_tokens=tokens, grid=grid).eval()
            declared = p.output_tokens(tokens, grid)
            assert isinstance(declared, int) and declared > 0, f"output_tokens({tokens}, {grid}) = {declared!r}"
            assert p.num_output_tokens == declared
            with torch.no_grad():
                out = p(self.sample_inputs(seed=0, tokens=tokens))
            assert tuple(out.shape) == (3, declared, self.out_dim), (
                f"input [3, {tokens}, {self.in_dim}] with grid {grid} gave {tuple(out.shape)}, "
                f"declared [3, {declared}, {self.out_dim}]"
            )
            assert torch.isfinite(out).all()

    def test_images_are_projected_independently(self) -> None:
        """Image ``i``'s tokens depend only on image ``i`` (no mixing across the batch)."""
        self.assert_batch_independent(self.make().eval(), self.sample_inputs(seed=3))

    def test_works_inside_a_tiny_vlm(self) -> None:
        vision = build_partner("vision_encoders", self.vision_partner)
        llm = build_partner("llms", self.llm_partner)
        projector = self.make(in_dim=vision.hidden_size, out_dim=llm.hidden_size, num_input_tokens=vision.num_tokens, grid=vision.grid)
        vision.requires_grad_(False)
        check_in_tiny_vlm(vision, projector, llm, subject="projector")
