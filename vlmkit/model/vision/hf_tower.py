"""Hugging Face vision towers (CLIP, SigLIP): the ``clip`` and ``siglip`` encoders.

The tower keeps only the layers up to ``select_layer`` and drops the pooling parts it never uses
(post-LayerNorm, SigLIP's attention-pool head), so no compute is wasted and every parameter gets
a gradient when the tower is trained (DDP-safe). ``[N, 3, S, S]`` -> ``[N, T, hidden]`` with
``T = (S // patch)^2`` (+1 with CLIP's CLS token under ``select_feature: cls_patch``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from vlmkit.model.hf_loading import instantiate, load_config, parse_dtype
from vlmkit.model.vision.base import ImageTransform, VisionEncoder
from vlmkit.model.vision.transform import image_transform

log = logging.getLogger(__name__)

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
HALF = (0.5, 0.5, 0.5)
FEATURES = ("patch", "cls_patch")


def kept_layers(num_layers: int, select_layer: int) -> int:
    """Encoder layers needed for ``hidden_states[select_layer]`` (index 0 = the embeddings)."""
    keep = select_layer if select_layer >= 0 else num_layers + 1 + select_layer
    if not 0 <= keep <= num_layers:
        raise ValueError(f"select_layer {select_layer} is out of range for a {num_layers}-layer tower; use -{num_layers + 1}..{num_layers}")
    return keep


def processor_stats(pretrained: str, mean: tuple, std: tuple) -> tuple[tuple, tuple]:
    """``(image_mean, image_std)`` from the checkpoint's image processor, else the family defaults."""
    from transformers import ImageProcessingMixin

    try:
        proc, _ = ImageProcessingMixin.get_image_processor_dict(pretrained)
    except (OSError, ValueError):
        proc = {}
    if "image_mean" not in proc or "image_std" not in proc:
        log.info("no image processor config for %s; using the family's mean/std", pretrained)
        return mean, std
    return tuple(proc["image_mean"]), tuple(proc["image_std"])


class HFVisionTower(VisionEncoder):
    """Wraps a truncated ``CLIPVisionModel``/``SiglipVisionModel`` (``self.model``), replacing its
    unused post-LayerNorm by ``nn.Identity`` (every builder of a tower, export reloads included)."""

    def __init__(self, model: nn.Module, has_cls: bool, select_feature: str, image_size: int, transform: ImageTransform) -> None:
        super().__init__()
        if select_feature not in FEATURES:
            raise ValueError(f"select_feature must be one of {FEATURES}, got {select_feature!r}")
        if select_feature == "cls_patch" and not has_cls:
            raise ValueError("this tower has no CLS token; use select_feature: patch")
        model.vision_model.post_layernorm = nn.Identity()  # unused: features come from a hidden layer
        self.model = model
        config = model.config
        side = image_size // config.patch_size
        self.drop_cls = has_cls and select_feature == "patch"
        self.hidden_size = config.hidden_size
        self.grid = (side, side) if not has_cls or self.drop_cls else None
        self.num_tokens = side * side + (1 if has_cls and not self.drop_cls else 0)
        self.interpolate = image_size != config.image_size
        self.image_transform = transform

    def layers(self) -> nn.ModuleList:
        return self.model.vision_model.encoder.layers

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        dtype = self.model.get_input_embeddings().weight.dtype
        out = self.model(pixel_values=pixel_values.to(dtype), interpolate_pos_encoding=self.interpolate)
        tokens = out.last_hidden_state
        return tokens[:, 1:] if self.drop_cls else tokens


@dataclass(frozen=True)
class TowerFamily:
    """What differs between CLIP and SigLIP: classes, CLS token, default mean/std, config tweaks."""

    model_cls: Any
    config_cls: Any
    has_cls: bool
    mean: tuple
    std: tuple
    config_overrides: dict = field(default_factory=dict)


def hf_tower(family: TowerFamily, pretrained: str, load_weights: bool, options: dict[str, Any]) -> HFVisionTower:
    """Build a tower of ``family`` from ``pretrained`` (hub name or local folder); see the module doc.

    ``options``: ``select_layer``, ``select_feature``, ``image_size``, ``resize``, ``torch_dtype``,
    ``attn_implementation``, ``activation_checkpointing``, ``random_init`` (random weights on the
    current default device, nothing read but the config; see ``docs/components.md``).
    """
    from_checkpoint = load_weights and not options["random_init"]
    config = load_config(family.config_cls, pretrained, from_checkpoint, family.config_overrides)
    full, select_layer = config.num_hidden_layers, options["select_layer"]
    config.num_hidden_layers = kept_layers(full, select_layer)
    if config.num_hidden_layers < full:
        log.info("%s: keeping %d of %d layers (select_layer=%d); the rest are not loaded", pretrained, config.num_hidden_layers, full, select_layer)
    model = instantiate(family.model_cls, config, pretrained, load_weights, options["random_init"],
                        dtype=parse_dtype(options["torch_dtype"]), attn_implementation=options["attn_implementation"])
    if options["activation_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    size = options["image_size"] or config.image_size
    mean, std = processor_stats(pretrained, family.mean, family.std) if from_checkpoint else (family.mean, family.std)
    transform = image_transform(size, mean, std, options["resize"])
    return HFVisionTower(model, family.has_cls, options["select_feature"], size, transform)


def clip_family() -> TowerFamily:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    return TowerFamily(CLIPVisionModel, CLIPVisionConfig, True, CLIP_MEAN, CLIP_STD)


def siglip_family() -> TowerFamily:
    from transformers import SiglipVisionConfig, SiglipVisionModel

    return TowerFamily(SiglipVisionModel, SiglipVisionConfig, False, HALF, HALF, {"vision_use_head": False})


class TowerFactory:
    """A registered tower factory: ``family`` (imported lazily) and its default checkpoint."""

    def __init__(self, family: Callable[[], TowerFamily], default: str) -> None:
        self.family = family
        self.default = default

    def __call__(
        self,
        load_weights: bool = True,
        pretrained: str | None = None,
        select_layer: int = -2,
        select_feature: str = "patch",
        image_size: int | None = None,
        resize: str = "pad",
        torch_dtype: str | None = None,
        attn_implementation: str = "sdpa",
        activation_checkpointing: bool = False,
        random_init: bool = False,
    ) -> HFVisionTower:
        options = dict(locals())
        del options["self"]
        return hf_tower(self.family(), pretrained or self.default, load_weights, options)


clip = TowerFactory(clip_family, "openai/clip-vit-large-patch14-336")  # VILA-1.0's tower
siglip = TowerFactory(siglip_family, "google/siglip-so400m-patch14-384")  # VILA-1.5's tower
