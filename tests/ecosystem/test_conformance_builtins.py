"""The conformance kit applied to vlmkit's own built-in components."""

from vlmkit.testing import LLMBackboneConformance, ProjectorConformance, VisionEncoderConformance


class TestTinyViT(VisionEncoderConformance):
    factory = "tiny_vit"


class TestTinyViTLarger(VisionEncoderConformance):
    factory = "tiny_vit"
    kwargs = {"image_size": 48, "patch_size": 8, "width": 16}


class TestTinyLlama(LLMBackboneConformance):
    factory = "tiny_llama"


class TestMLP(ProjectorConformance):
    factory = "mlp"


class TestLinear(ProjectorConformance):
    factory = "linear"


class TestIdentity(ProjectorConformance):
    factory = "identity"
    in_dim = out_dim = 40
    vision_partner = {"name": "tiny_vit", "width": 64}  # tiny_llama's width: identity cannot resize
    unused_parameters_allowed = True  # it has none

    def test_trainable_parameters_get_finite_gradients(self) -> None:
        assert not list(self.make().parameters()), "identity must have no parameters"


class TestDownsample(ProjectorConformance):
    factory = "downsample"
    shapes = ((16, (4, 4)), (25, (5, 5)), (12, (3, 4)))


class TestResampler(ProjectorConformance):
    factory = "resampler"
    shapes = ((16, (4, 4)), (10, None))


class TestTransformer(ProjectorConformance):
    factory = "transformer"
    shapes = ((16, (4, 4)), (10, None))
