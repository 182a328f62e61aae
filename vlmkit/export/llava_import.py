"""Importing a ``llava-hf`` folder (transformers ``LlavaForConditionalGeneration`` + ``LlavaProcessor``)
as vlmkit components: the registered ``llava_hf`` vision encoder, projector and LLM, each reading
its part of the folder. A recipe starts from one with ``model: {init_from: PATH}``;
``vlmkit.from_pretrained(PATH)`` builds the whole model.

Mapping (the inverse of :mod:`vlmkit.export.llava_hf`):

- ``vision_tower`` (CLIP or SigLIP) -> :class:`HFVisionTower`, truncated to
  ``vision_feature_layer``; strategy ``default`` drops CLIP's CLS token (``select_feature: patch``),
  ``full`` keeps every token. Images: the image processor's size, mean/std and resizing (``do_pad``
  -> ``pad``; a straight resize to height x width -> ``squash``). A processor that center-crops
  (llava-1.5-hf's ``CLIPImageProcessor``) has no vlmkit equivalent: the ``resize`` option must then
  choose ``pad`` or ``squash`` (identical on square images).
- ``multi_modal_projector``: activation ``gelu`` -> the 2-layer ``mlp``; ``linear`` -> one Linear
  layer (``linear_2 @ linear_1`` folded; exact when ``linear_2`` is the identity, as vlmkit exports it).
- ``language_model`` + ``lm_head`` -> :class:`HFCausalLM` of ``text_config`` with the folder's tokenizer;
  the image placeholder is the token of ``image_token_id``.

Only safetensors weights are read; nothing in the folder runs as code. A part without a vlmkit
equivalent is refused with an error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from vlmkit.model.hf_loading import parse_dtype
from vlmkit.model.projectors.mlp import MLPProjector
from vlmkit.model.vision.hf_tower import HFVisionTower, clip_family, kept_layers, siglip_family
from vlmkit.model.vision.transform import image_transform

TOWER_FAMILIES = {"clip_vision_model": clip_family, "siglip_vision_model": siglip_family}
PROJECTOR_DEPTH = {"gelu": 2, "linear": 1}
# checkpoint key prefix -> the part's own; transformers <5 saves the first forms, newer ones the second
VISION_KEYS = {"vision_tower.": "", "model.vision_tower.": ""}
PROJECTOR_KEYS = {"multi_modal_projector.": "", "model.multi_modal_projector.": ""}
LLM_KEYS = {"language_model.model.": "model.", "language_model.lm_head.": "lm_head.", "model.language_model.": "model.", "lm_head.": "lm_head."}


def is_llava_folder(path: str | Path) -> bool:
    config = Path(path) / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("model_type") == "llava"


def read_llava_config(path: str | Path | None) -> Any:
    """The folder's ``LlavaConfig``, checked to be one whose every part vlmkit can hold."""
    if not path:
        raise ValueError("the llava_hf components need 'pretrained': a llava-hf folder (model.init_from)")
    folder = Path(path)
    if not is_llava_folder(folder):
        raise ValueError(f"{folder} is not a llava-hf folder: its config.json must have model_type 'llava' (LlavaForConditionalGeneration)")
    from transformers import LlavaConfig

    config = LlavaConfig.from_pretrained(folder)
    reasons = unsupported(config)
    if reasons:
        raise ValueError(f"{folder}: cannot import as vlmkit: " + "; ".join(reasons))
    return config


def unsupported(config: Any) -> list[str]:
    """The parts of a ``LlavaConfig`` vlmkit has no equivalent for, each named (empty when none)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    reasons = []
    tower = config.vision_config.model_type
    if tower not in TOWER_FAMILIES:
        reasons.append(f"vision tower {tower!r} has no vlmkit equivalent (vlmkit holds {', '.join(TOWER_FAMILIES)})")
    if not isinstance(config.vision_feature_layer, int):
        reasons.append(f"vision tower: features from several layers (vision_feature_layer={config.vision_feature_layer}) have no vlmkit equivalent")
    if tower == "siglip_vision_model" and config.vision_feature_select_strategy == "default":
        reasons.append("vision tower: strategy 'default' drops the first patch token of a SigLIP tower (it has no CLS token); vlmkit keeps every patch")
    if config.projector_hidden_act not in PROJECTOR_DEPTH:
        reasons.append(f"projector activation {config.projector_hidden_act!r} has no vlmkit equivalent (vlmkit holds {', '.join(PROJECTOR_DEPTH)})")
    if type(config.text_config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
        reasons.append(f"language model {config.text_config.model_type!r} is not a transformers causal LM")
    return reasons


def safetensors_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return sorted({folder / name for name in json.loads(index.read_text())["weight_map"].values()})
    if (folder / "model.safetensors").is_file():
        return [folder / "model.safetensors"]
    raise FileNotFoundError(f"{folder} has no safetensors weights (model.safetensors or its index); vlmkit reads no pickled .bin files")


def part_state(folder: Path, prefixes: dict[str, str]) -> dict[str, torch.Tensor]:
    """The tensors of one part, renamed: a key starting with one of ``prefixes`` gets its replacement."""
    from safetensors import safe_open

    found: dict[str, torch.Tensor] = {}
    for file in safetensors_files(folder):
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                prefix = next((p for p in prefixes if key.startswith(p)), None)
                if prefix is not None:
                    found[prefixes[prefix] + key.removeprefix(prefix)] = f.get_tensor(key)
    return found


def load_part(model_cls: Any, config: Any, folder: Path, prefixes: dict[str, str], part: str, allowed: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """``model_cls`` built from ``config`` holding the folder's tensors of ``part`` (an error names
    any weight the checkpoint lacks)."""
    state = part_state(folder, prefixes)
    model, info = model_cls.from_pretrained(None, config=config, state_dict=state, output_loading_info=True, **kwargs)
    check_loaded(folder, part, info, allowed)
    return model


def check_loaded(folder: Path, part: str, info: dict, allowed: tuple[str, ...] = ()) -> None:
    missing = [k for k in info["missing_keys"] if not any(a in k for a in allowed)]
    if missing:
        raise ValueError(f"{folder}: the {part}'s weights are not in the checkpoint (missing {missing[:4]}); is it a LlavaForConditionalGeneration save?")


def processor_resize(proc: dict[str, Any]) -> str | None:
    """vlmkit's resize mode for an image-processor config: ``pad``, ``squash`` or ``None`` (crops)."""
    if proc.get("do_pad"):
        return "pad"
    size, crop = proc.get("size") or {}, proc.get("crop_size") or {}
    exact = "height" in size and "width" in size
    if proc.get("do_resize", True) and exact and not (proc.get("do_center_crop") and crop != size):
        return "squash"
    return None


def llava_transform(folder: Path, image_size: int, resize: str | None):
    """The :class:`ImageTransform` of the folder's ``preprocessor_config.json``."""
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: the image processor (preprocessor_config.json) is missing")
    proc = json.loads(path.read_text())
    mode = resize or processor_resize(proc)
    if mode is None:
        raise ValueError(
            f"{path}: the image processor ({proc.get('image_processor_type', 'unknown')}) resizes the shortest edge and "
            "center-crops, which vlmkit's image transforms do not; set the vision encoder option resize: pad or squash "
            "(identical pixels on square images)"
        )
    return image_transform(image_size, tuple(proc.get("image_mean", (0.5,) * 3)), tuple(proc.get("image_std", (0.5,) * 3)), mode)


def llava_vision(load_weights: bool = True, pretrained: str | None = None, resize: str | None = None, torch_dtype: str | None = None,
                 attn_implementation: str = "sdpa", activation_checkpointing: bool = False) -> HFVisionTower:
    """The folder's vision tower ``[N, 3, S, S] -> [N, T, hidden]`` (see the module doc)."""
    config = read_llava_config(pretrained)
    folder = Path(pretrained)
    family = TOWER_FAMILIES[config.vision_config.model_type]()
    vision_config = family.config_cls(**{**config.vision_config.to_dict(), **family.config_overrides})
    vision_config.num_hidden_layers = kept_layers(vision_config.num_hidden_layers, config.vision_feature_layer)
    options = {"dtype": parse_dtype(torch_dtype), "attn_implementation": attn_implementation}
    if load_weights:
        model = load_part(family.model_cls, vision_config, folder, VISION_KEYS, "vision tower", ("post_layernorm",), **options)
    else:
        with torch.device("meta"):
            model = family.model_cls._from_config(vision_config, attn_implementation=attn_implementation)
    if activation_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    select = "patch" if config.vision_feature_select_strategy == "default" or not family.has_cls else "cls_patch"
    size = vision_config.image_size
    return HFVisionTower(model, family.has_cls, select, size, llava_transform(folder, size, resize))


def llava_projector(in_dim: int, out_dim: int, num_input_tokens: int, grid: tuple[int, int] | None = None,
                    pretrained: str | None = None) -> MLPProjector:
    """The folder's ``multi_modal_projector`` as an :class:`MLPProjector`, ``[N, T, in_dim] -> [N, T, out_dim]``."""
    config = read_llava_config(pretrained)
    folder = Path(pretrained)
    t = part_state(folder, PROJECTOR_KEYS)
    if "linear_1.weight" not in t or "linear_2.weight" not in t:
        raise ValueError(f"{folder}: the projector's weights (multi_modal_projector.linear_1/2) are not in the checkpoint")
    w1, w2 = t["linear_1.weight"], t["linear_2.weight"]
    b1, b2 = t.get("linear_1.bias", w1.new_zeros(w1.shape[0])), t.get("linear_2.bias", w2.new_zeros(w2.shape[0]))
    if w1.shape[1] != in_dim or w2.shape[0] != out_dim:
        raise ValueError(f"{folder}: the projector maps {w1.shape[1]} -> {w2.shape[0]} features, but the tower gives {in_dim} and the LLM takes {out_dim}")
    depth = PROJECTOR_DEPTH[config.projector_hidden_act]
    layers = [(w1, b1), (w2, b2)] if depth == 2 else [(w2 @ w1, w2 @ b1 + b2)]
    projector = MLPProjector(in_dim, out_dim, num_input_tokens, grid, depth=depth)
    linears = [m for m in projector.net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for linear, (weight, bias) in zip(linears, layers):
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
    return projector


def llava_llm(load_weights: bool = True, pretrained: str | None = None, torch_dtype: str | None = None,
              attn_implementation: str = "sdpa", activation_checkpointing: bool = False):
    """The folder's language model + tokenizer as an :class:`HFCausalLM`, with the folder's
    image token (``image_token_id``) as the placeholder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    from vlmkit.model.llm.hf_backbone import HFCausalLM

    config = read_llava_config(pretrained)
    folder = Path(pretrained)
    text = config.text_config
    text.tie_word_embeddings = getattr(config, "tie_word_embeddings", False) or getattr(text, "tie_word_embeddings", False)
    if load_weights:
        model_cls = MODEL_FOR_CAUSAL_LM_MAPPING[type(text)]  # the concrete class (Auto* needs a path)
        model = load_part(model_cls, text, folder, LLM_KEYS, "language model", ("lm_head",) if text.tie_word_embeddings else (),
                          dtype=parse_dtype(torch_dtype), attn_implementation=attn_implementation)
    else:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(text, attn_implementation=attn_implementation)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    image_token = tokenizer.convert_ids_to_tokens(config.image_token_id)
    if image_token is None:
        raise ValueError(f"{folder}: image_token_id {config.image_token_id} is not in the tokenizer's vocabulary")
    llm = HFCausalLM(model, tokenizer, image_token=image_token)
    if activation_checkpointing:
        llm.enable_activation_checkpointing()
    return llm


def from_pretrained(path: str | Path):
    """``VisionLanguageModel`` of a llava-hf folder (eval mode, CPU; ``chat_template`` =
    ``"tokenizer"``: the folder's own jinja template)."""
    from vlmkit.config import ModelConfig
    from vlmkit.model.vlm import build_vlm

    read_llava_config(path)  # fail before building anything
    model = build_vlm(ModelConfig.model_validate({"init_from": str(path)})).eval()
    expected = json.loads((Path(path) / "config.json").read_text()).get("image_seq_length")
    if expected is not None and expected != model.num_image_tokens:
        raise ValueError(f"{path}: the folder expands <image> to {expected} tokens, the imported model gives {model.num_image_tokens}")
    model.chat_template = "tokenizer"
    return model
