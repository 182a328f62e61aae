"""The default answer to "which are the repeated blocks?" for backbones that do not say."""

from __future__ import annotations

from torch import nn


def repeated_layers(module: nn.Module) -> nn.ModuleList:
    """The longest ``nn.ModuleList`` of same-class modules inside ``module`` (a transformer's
    layers); an empty ``ModuleList`` when there is none."""
    stacks = [m for m in module.modules() if isinstance(m, nn.ModuleList) and len(m) and len({type(c) for c in m}) == 1]
    return max(stacks, key=len) if stacks else nn.ModuleList()
