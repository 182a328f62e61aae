"""vlmkit's vision-encoder conformance suite, pointed at the template's encoder. The tiny-VLM check
pairs it with our own C-Abstractor (``projector_partner``) instead of the default ``mlp``."""

from vlmkit.testing import VisionEncoderConformance

from vlmkit_cabstractor.conv_encoder import conv_encoder


class TestConvEncoder(VisionEncoderConformance):
    factory = conv_encoder
    registered_name = "cabs_conv_encoder"
    kwargs = {"image_size": 32, "patch_size": 8, "width": 16, "depth": 1}
    projector_partner = {"name": "c_abstractor", "num_queries": 4, "depth": 1}


class TestConvEncoderNoBlocks(VisionEncoderConformance):
    factory = "cabs_conv_encoder"  # a registered name works as well as the factory
    kwargs = {"image_size": 24, "patch_size": 4, "width": 8, "depth": 0}
