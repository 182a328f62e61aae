"""Conformance suite for :class:`~vlmkit.model.vision.base.VisionEncoder` plugins."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import torch
from torch import nn

from vlmkit.model.vision.base import VisionEncoder
from vlmkit.testing.base import ModuleConformance
from vlmkit.testing.tiny_vlm import DEFAULT_PARTNERS, build_partner, check_in_tiny_vlm, project_for, random_images


class VisionEncoderConformance(ModuleConformance):
    """Checks a vision-encoder factory ``factory(load_weights=..., **kwargs)``.

    The encoder is built with ``load_weights`` (class attribute, default ``False``: architecture
    only, random init), so keep ``kwargs`` small (a tiny config) for fast tests. The tiny-VLM
    check pairs it with ``projector_partner`` and ``llm_partner``: partner specs are
    ``{"name": registered_name, **options}`` (defaults ``{"name": "mlp"}`` and
    ``{"name": "tiny_llama"}``). Example::

        class TestMyEncoder(VisionEncoderConformance):
            factory = "my_encoder"           # or the factory itself
            kwargs = {"image_size": 32}
    """

    kind: ClassVar[str] = "vision_encoders"
    load_weights: ClassVar[bool] = False
    projector_partner: ClassVar[dict[str, Any]] = DEFAULT_PARTNERS["projectors"]
    llm_partner: ClassVar[dict[str, Any]] = DEFAULT_PARTNERS["llms"]

    def arguments(self) -> dict[str, Any]:
        return {"load_weights": self.load_weights}

    def sample_inputs(self, seed: int, requires_grad: bool = False) -> torch.Tensor:
        encoder = self._transform_source()
        x = torch.stack([encoder.image_transform(im) for im in random_images(2, seed)])
        return x.requires_grad_(requires_grad)

    def _transform_source(self) -> Any:
        if not hasattr(self, "_cached"):
            self._cached = self.make()
        return self._cached

    def run(self, module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        return module(inputs)

    def test_declares_its_shapes(self) -> None:
        enc = self.make()
        assert isinstance(enc, VisionEncoder), f"{type(enc).__name__} must subclass vlmkit.VisionEncoder"
        missing = [a for a in ("hidden_size", "num_tokens", "grid", "image_transform") if not hasattr(enc, a)]
        assert not missing, f"{type(enc).__name__} sets no {', '.join(missing)}: assign them in __init__ after super().__init__()"
        assert isinstance(enc.hidden_size, int) and enc.hidden_size > 0, f"hidden_size = {enc.hidden_size!r}"
        assert isinstance(enc.num_tokens, int) and enc.num_tokens > 0, f"num_tokens = {enc.num_tokens!r}"
        if enc.grid is not None:
            rows, cols = enc.grid
            assert rows * cols == enc.num_tokens, f"grid {enc.grid} does not hold num_tokens={enc.num_tokens}"

    def test_output_shape_matches_declaration(self) -> None:
        enc = self.make().eval()
        with torch.no_grad():
            out = enc(self.sample_inputs(seed=0))
        assert tuple(out.shape) == (2, enc.num_tokens, enc.hidden_size), (
            f"forward gave {tuple(out.shape)}, declared [2, {enc.num_tokens}, {enc.hidden_size}]"
        )
        assert torch.isfinite(out).all()

    def test_image_transform_gives_square_tensors_and_pickles(self) -> None:
        """Any PIL image (odd sizes, grayscale) -> ``[3, S, S]``; the transform survives pickling
        (DataLoader workers carry it)."""
        enc = self.make()
        try:
            transform = pickle.loads(pickle.dumps(enc.image_transform))
        except Exception as exc:  # pickle raises AttributeError, TypeError or PicklingError
            raise AssertionError(
                f"{type(enc).__name__}.image_transform ({enc.image_transform!r}) cannot be pickled, but DataLoader "
                f"workers need it: {type(exc).__name__}: {exc}. Use vlmkit.ImageTransform or a module-level class "
                "(not a lambda, closure or local class)"
            ) from exc
        images = random_images(3, seed=5) + [random_images(1, seed=6)[0].convert("L")]
        shapes = {tuple(transform(im).shape) for im in images}
        assert len(shapes) == 1, f"images of different sizes gave different tensor shapes: {shapes}"
        (shape,) = shapes
        assert shape[0] == 3 and shape[1] == shape[2], f"expected [3, S, S], got {shape}"
        assert torch.equal(transform(images[0]), enc.image_transform(images[0]))

    def test_images_are_encoded_independently(self) -> None:
        self.assert_batch_independent(self.make().eval(), self.sample_inputs(seed=3))

    def test_layers_are_its_own_blocks(self) -> None:
        """``layers()`` is an ``nn.ModuleList`` of submodules of the encoder (possibly empty)."""
        enc = self.make()
        layers = enc.layers()
        assert isinstance(layers, nn.ModuleList), f"layers() must return an nn.ModuleList, got {type(layers).__name__}"
        own = set(enc.modules())
        assert all(layer in own for layer in layers), "layers() must return the encoder's own submodules, not copies"

    def test_works_inside_a_tiny_vlm(self) -> None:
        vision = self.make()
        llm = build_partner("llms", self.llm_partner)
        projector = project_for(vision, llm, self.projector_partner)
        check_in_tiny_vlm(vision, projector, llm, subject="vision_encoder")
