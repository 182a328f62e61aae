"""The plugin's entry point: registers the projector and the vision encoder under the names
recipes use.

The factories are given as ``"module:attr"`` strings so that listing plugins (``vlmkit plugins
list``) does not import torch or this package's model code.
"""

import vlmkit


@vlmkit.hookimpl
def vlmkit_register(registry):
    registry.projectors.register(
        "c_abstractor",
        "vlmkit_cabstractor.cabstractor:CAbstractor",
        description="Honeybee C-Abstractor: residual conv blocks + adaptive pooling to num_queries tokens.",
    )
    registry.vision_encoders.register(
        "cabs_conv_encoder",
        "vlmkit_cabstractor.conv_encoder:conv_encoder",
        description="Small conv encoder whose feature map is the token grid (template encoder; random init or a safetensors file).",
    )
