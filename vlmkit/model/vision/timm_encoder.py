"""``timm``: any timm model as a vision encoder (ViT tokens, or a CNN's final feature map as tokens)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vlmkit.model.vision.base import ImageTransform, VisionEncoder
from vlmkit.model.vision.transform import image_transform

FEATURES = ("patch", "cls_patch")


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or (never unpickling code) ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist; give a .safetensors or .pth file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def load_matching(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model``; only classifier keys (absent after ``num_classes=0``) may be extra."""
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys:
        raise ValueError(f"weights {source!r} do not fit this timm model: missing {result.missing_keys[:5]}...; check the model name")


class TimmEncoder(VisionEncoder):
    """Wraps ``timm`` model ``self.model`` (classifier removed); ``[N, 3, S, S]`` -> ``[N, T, C]``.

    ``forward_features`` giving ``[N, T, C]`` (ViT-like) yields its tokens, minus the prefix (CLS,
    register) tokens under ``select_feature: patch``; ``[N, C, H, W]`` (CNN) yields ``H*W`` tokens in
    row-major order. ``pool_to=k`` average-pools the token grid to at most ``k x k``. A CNN gets its
    pixels in channels-last layout (the weights stay as they are): on CPUs its convolutions run about
    1.7x faster that way (``benchmarks/encoder_layout.py``), with the same outputs.
    """

    def __init__(self, model: nn.Module, image_size: int, transform: ImageTransform, select_feature: str = "patch", pool_to: int | None = None) -> None:
        super().__init__()
        if select_feature not in FEATURES:
            raise ValueError(f"select_feature must be one of {FEATURES}, got {select_feature!r}")
        self.model = model
        self.image_transform = transform
        self.prefix = int(getattr(model, "num_prefix_tokens", 0))
        self.keep_prefix = select_feature == "cls_patch" and self.prefix > 0
        if self.keep_prefix and pool_to:
            raise ValueError("pool_to needs a token grid; use select_feature: patch with pool_to")
        device = next(model.parameters()).device
        with torch.no_grad():  # one probe pass (free on the meta device) gives the token layout
            probe = model.forward_features(torch.zeros(1, 3, image_size, image_size, device=device))
        self.hidden_size = probe.shape[-1] if probe.ndim == 3 else probe.shape[1]
        self.native_grid = self._native_grid(probe)
        self.channels_last = probe.ndim == 4
        rows, cols = self.native_grid
        self.pooled_grid = (min(pool_to, rows), min(pool_to, cols)) if pool_to else None
        grid = self.pooled_grid or self.native_grid
        self.grid = None if self.keep_prefix else grid
        self.num_tokens = grid[0] * grid[1] + (self.prefix if self.keep_prefix else 0)

    def _native_grid(self, probe: torch.Tensor) -> tuple[int, int]:
        if probe.ndim == 4:
            return probe.shape[2], probe.shape[3]
        patches = probe.shape[1] - self.prefix
        grid = getattr(getattr(self.model, "patch_embed", None), "grid_size", None)
        if grid is not None and grid[0] * grid[1] == patches:
            return tuple(grid)
        side = math.isqrt(patches)
        if side * side != patches:
            raise ValueError(f"cannot lay {patches} timm tokens out as a grid; use select_feature: cls_patch")
        return side, side

    def layers(self) -> nn.ModuleList:
        """timm's ``blocks`` (a ViT's transformer blocks, a CNN's stages) when they share one class."""
        stack = getattr(self.model, "blocks", None)
        if isinstance(stack, (nn.Sequential, nn.ModuleList)) and len(stack) and len({type(b) for b in stack}) == 1:
            return nn.ModuleList(stack)
        return super().layers()

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = pixel_values.to(next(self.model.parameters()).dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.model.forward_features(x)
        if x.ndim == 3:
            if self.keep_prefix:
                return x
            x = x[:, self.prefix :]
            if self.pooled_grid is None:
                return x
            x = x.transpose(1, 2).reshape(x.shape[0], -1, *self.native_grid)
        if self.pooled_grid is not None:
            x = F.adaptive_avg_pool2d(x, self.pooled_grid)
        return x.flatten(2).transpose(1, 2)


def native_size(model: nn.Module) -> int:
    """The input size ``model`` was built for: its patch embedding's (ViT-like), else timm's data config."""
    import timm.data

    built = getattr(getattr(model, "patch_embed", None), "img_size", None)
    return int(built[-1]) if built is not None else int(timm.data.resolve_data_config({}, model=model)["input_size"][-1])


def timm_transform(model: nn.Module, image_size: int, resize: str) -> ImageTransform:
    """The model's own timm data config (mean/std) at ``image_size``."""
    import timm.data

    data = timm.data.resolve_data_config({}, model=model)
    return image_transform(image_size, data["mean"], data["std"], resize)


def timm_encoder(
    load_weights: bool = True,
    model: str = "vit_small_patch16_224",
    weights: str = "hub",
    image_size: int | None = None,
    select_feature: str = "patch",
    pool_to: int | None = None,
    resize: str = "pad",
    model_options: dict | None = None,
) -> TimmEncoder:
    """Build timm ``model`` without its classifier.

    ``weights``: ``"hub"`` (timm's pretrained download), a local ``.safetensors``/``.pth`` file, or
    ``"none"`` (random init). ``load_weights=False`` builds on the meta device without weights.
    ``model_options`` go to ``timm.create_model`` (e.g. ``{"depth": 2}``).
    """
    import timm

    with torch.device("cpu" if load_weights else "meta"):
        net = timm.create_model(model, pretrained=load_weights and weights == "hub", num_classes=0, **(model_options or {}))
    if load_weights and weights not in ("hub", "none"):  # a checkpoint at the model's native size
        load_matching(net, load_state_file(weights), weights)
    size = image_size or native_size(net)
    if image_size is not None and hasattr(net, "set_input_size"):  # ViT-like: resample position embeddings
        net.set_input_size(img_size=image_size)
    return TimmEncoder(net, size, timm_transform(net, size, resize), select_feature, pool_to)
