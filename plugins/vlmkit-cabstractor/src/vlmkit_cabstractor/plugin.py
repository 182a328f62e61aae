"""The plugin's entry point: registers the projector under the name recipes use.

The factory is given as a ``"module:attr"`` string so that listing plugins (``vlmkit plugins
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
