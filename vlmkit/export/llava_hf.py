"""The ``llava-hf`` export: a checkpoint plain transformers loads with
``LlavaForConditionalGeneration.from_pretrained(OUT)`` and ``AutoProcessor.from_pretrained(OUT)``.

Expressible models: a CLIP or SigLIP tower at its native resolution, the 2-layer GELU ``mlp``
projector (Llava's ``multi_modal_projector``) or the ``linear`` one (VILA-7B/13B: written as
``linear_1`` = the map, activation ``linear``, ``linear_2`` = identity, which computes the same
values exactly), a Llama/Mistral/Qwen2/Qwen3 LLM. Anything else is refused with the reason. Mapping:

- the tower is written as vlmkit runs it (layers past ``select_layer`` removed), so
  ``vision_feature_layer = -1``; CLIP with ``select_feature: patch`` -> strategy ``default`` (drop
  CLS), otherwise ``full``;
- images: ``LlavaImageProcessor`` with vlmkit's size, mean/std and ``pad``/``squash`` resizing;
  square images give identical pixels, padded ones differ by at most two grey levels in the padding
  (its colour is ``int(mean * 255)`` there, ``round(mean * 255)`` in vlmkit) and next to it;
- the processor expands one ``<image>`` into ``image_seq_length`` tokens, as vlmkit's data
  pipeline pre-expands it;
- the recipe's chat template (``model.chat_template``) becomes the processor's and the tokenizer's
  jinja ``chat_template`` (:mod:`vlmkit.export.chat_jinja`).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from vlmkit.export.folder import staged_folder
from vlmkit.model.llm.hf_backbone import HFCausalLM
from vlmkit.model.projectors.mlp import MLPProjector
from vlmkit.model.vision.hf_tower import HFVisionTower

if TYPE_CHECKING:
    from vlmkit.config import ModelConfig
    from vlmkit.model.vlm import VisionLanguageModel

TOWERS = ("clip_vision_model", "siglip_vision_model")
LLMS = ("llama", "mistral", "qwen2", "qwen3")


def refusals(model: "VisionLanguageModel") -> list[str]:
    """Why ``model`` cannot be written as a Llava checkpoint (empty when it can)."""
    reasons = []
    vision, projector, llm = model.vision_encoder, model.projector, model.llm
    if not isinstance(vision, HFVisionTower) or vision.model.config.model_type not in TOWERS:
        reasons.append(f"the vision encoder is {type(vision).__name__}, not a CLIP or SigLIP tower")
    elif vision.interpolate:
        reasons.append(f"the tower runs at {vision.image_transform.size}px, not its native {vision.model.config.image_size}px (Llava does not interpolate positions)")
    if projector_act(projector) is None:
        reasons.append(f"the projector is {type(projector).__name__}{_depth(projector)}, not the 2-layer GELU 'mlp' or the 'linear' one Llava can hold")
    model_type = getattr(getattr(getattr(llm, "model", None), "config", None), "model_type", None)
    if not isinstance(llm, HFCausalLM) or model_type not in LLMS:
        reasons.append(f"the LLM is {type(llm).__name__} ({model_type or 'not a Hugging Face model'}), not one of {', '.join(LLMS)}")
    return reasons


def projector_act(projector: nn.Module) -> str | None:
    """Llava's ``projector_hidden_act`` for ``projector``: ``"gelu"`` (2-layer exact-GELU MLP),
    ``"linear"`` (one Linear layer), ``None`` when Llava's projector cannot hold it."""
    if not isinstance(projector, MLPProjector):
        return None
    if projector.depth == 1:
        return "linear"
    gelu = projector.depth == 2 and isinstance(projector.net[1], nn.GELU) and projector.net[1].approximate == "none"
    return "gelu" if gelu else None


def projector_state(projector: MLPProjector) -> dict[str, torch.Tensor]:
    """``multi_modal_projector`` weights: the two Linear layers, or for ``linear`` the map followed
    by an identity layer (``x @ I + 0`` is exact, so the outputs are bit-identical)."""
    first, last = projector.net[0], projector.net[-1]
    if projector.depth == 1:
        eye = torch.eye(first.out_features, dtype=first.weight.dtype)
        return {"linear_1.weight": first.weight, "linear_1.bias": first.bias,
                "linear_2.weight": eye, "linear_2.bias": torch.zeros(first.out_features, dtype=first.weight.dtype)}
    return {"linear_1.weight": first.weight, "linear_1.bias": first.bias, "linear_2.weight": last.weight, "linear_2.bias": last.bias}


def _depth(projector: nn.Module) -> str:
    return f" of depth {projector.depth}" if isinstance(projector, MLPProjector) else ""


def llava_config(model: "VisionLanguageModel") -> Any:
    from transformers import LlavaConfig

    tower, llm = model.vision_encoder, model.llm
    text = llm.model.config.to_dict()
    return LlavaConfig(
        vision_config=tower.model.config.to_dict(),
        text_config=text,
        image_token_id=llm.image_token_id,  # image_token_index before transformers 5 (aliased)
        projector_hidden_act=projector_act(model.projector),
        vision_feature_select_strategy="default" if tower.drop_cls else "full",
        vision_feature_layer=-1,
        image_seq_length=model.num_image_tokens,
        multimodal_projector_bias=True,
        tie_word_embeddings=text.get("tie_word_embeddings", False),
        pad_token_id=llm.tokenizer.pad_token_id,
    )


def tower_state(tower: HFVisionTower, target: nn.Module) -> dict[str, torch.Tensor]:
    """The tower's weights for Llava's vision tower; the post-LayerNorm vlmkit removed (unused
    by ``vision_feature_layer=-1``) is filled with an identity LayerNorm so nothing is left random."""
    state = dict(tower.model.state_dict())
    for name, t in target.state_dict().items():
        if name not in state and ".post_layernorm." in f".{name}":
            state[name] = torch.ones(t.shape, dtype=t.dtype) if name.endswith("weight") else torch.zeros(t.shape, dtype=t.dtype)
    return state


def fill_llava(model: "VisionLanguageModel", config: Any) -> nn.Module:
    """A ``LlavaForConditionalGeneration`` holding ``model``'s weights (built on the meta device;
    every saved tensor is assigned from the vlmkit model)."""
    from transformers import LlavaForConditionalGeneration

    with torch.device("meta"):
        llava = LlavaForConditionalGeneration(config)
    inner = llava.model
    inner.vision_tower.load_state_dict(tower_state(model.vision_encoder, inner.vision_tower), assign=True)
    inner.multi_modal_projector.load_state_dict(projector_state(model.projector), assign=True)
    hf_llm = model.llm.model
    inner.language_model.load_state_dict(hf_llm.get_decoder().state_dict(), assign=True)
    llava.get_output_embeddings().load_state_dict(hf_llm.get_output_embeddings().state_dict(), assign=True)
    if config.tie_word_embeddings:
        llava.tie_weights()
    return llava


def llava_processor(model: "VisionLanguageModel", chat_template: str = "tokenizer") -> Any:
    """The ``LlavaProcessor`` of ``model``; ``chat_template`` is the recipe's registered template."""
    from transformers import LlavaImageProcessor, LlavaProcessor
    from transformers.image_utils import PILImageResampling

    from vlmkit.export.chat_jinja import jinja_template
    from vlmkit.data.tokenize.chat_templates import get_chat_template

    tower, llm = model.vision_encoder, model.llm
    t = tower.image_transform
    size = {"height": t.size, "width": t.size}
    images = LlavaImageProcessor(
        do_pad=t.resize == "pad", size=size, do_center_crop=False, crop_size=size, resample=PILImageResampling.BICUBIC,
        image_mean=list(t.mean), image_std=list(t.std),
    )
    has_cls = tower.model.config.model_type == "clip_vision_model"
    tokenizer = copy.deepcopy(llm.tokenizer)
    tokenizer.chat_template = jinja_template(get_chat_template(chat_template, llm.tokenizer))
    names = ["input_ids", "attention_mask"]  # Llava takes no token_type_ids
    tokenizer.model_input_names = names
    if isinstance(getattr(tokenizer, "init_kwargs", None), dict):
        tokenizer.init_kwargs["model_input_names"] = names  # what save_pretrained writes
    return LlavaProcessor(
        image_processor=images, tokenizer=tokenizer, patch_size=tower.model.config.patch_size,
        vision_feature_select_strategy="default" if tower.drop_cls else "full",
        chat_template=tokenizer.chat_template, image_token=llm.image_token,
        num_additional_image_tokens=1 if has_cls else 0,
    )


def export_llava_hf(model: "VisionLanguageModel", model_config: "ModelConfig", out: str | os.PathLike,
                    overwrite: bool = False, source: dict[str, Any] | None = None) -> Path:
    """Write ``model`` as a transformers Llava checkpoint + processor in ``out``; raises
    ``ValueError`` naming every reason when the model cannot be expressed that way."""
    reasons = refusals(model)
    if reasons:
        raise ValueError("cannot export as llava-hf: " + "; ".join(reasons) + ". Use --format vlmkit instead")
    config = llava_config(model)
    llava = fill_llava(model, config)
    with staged_folder(out, overwrite) as tmp:
        llava.save_pretrained(tmp)  # safetensors (the default)
        llava_processor(model, model_config.chat_template).save_pretrained(tmp)
    return Path(out)
