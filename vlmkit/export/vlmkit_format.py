"""The ``vlmkit`` export format and :func:`from_pretrained`.

Layout (VILA's)::

    OUT/config.json      format, the registered components and their options, image-token facts
    OUT/vision_tower/    the vision encoder   } each a part folder (see vlmkit.export.parts):
    OUT/mm_projector/    the projector        } vlmkit_part.json + safetensors weights,
    OUT/llm/             the LLM + tokenizer  } save_pretrained style where the part is HF
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmkit.export.folder import staged_folder
from vlmkit.export.parts import read_part, write_part
from vlmkit.model.build import PART_KINDS, BuildContext

if TYPE_CHECKING:
    from vlmkit.config import ModelConfig
    from vlmkit.model.vlm import VisionLanguageModel

FORMAT, VERSION = "vlmkit", 1
CONFIG = "config.json"
FOLDERS = {"vision_encoder": "vision_tower", "projector": "mm_projector", "llm": "llm"}


def export_vlmkit(model: "VisionLanguageModel", model_config: "ModelConfig", out: str | os.PathLike,
                  overwrite: bool = False, source: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (built from ``model_config``) to ``out`` in the vlmkit format."""
    import vlmkit

    context = BuildContext(load_weights=False)  # as read_part rebuilds each part, in build order
    with staged_folder(out, overwrite) as tmp:
        for part, kind in PART_KINDS.items():
            module = getattr(model, part)
            write_part(module, tmp / FOLDERS[part], kind, getattr(model_config, part).model_dump(), context)
            context = context.after(kind, module)
        config = {
            "format": FORMAT,
            "format_version": VERSION,
            "vlmkit_version": vlmkit.__version__,
            "model": model_config.model_dump(),
            "parts": FOLDERS,
            "num_image_tokens": model.num_image_tokens,
            "image_token_id": model.image_token_id,
            "source": source or {},
        }
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return Path(out)


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a vlmkit export, checked to be one."""
    folder = Path(path)
    config_path = folder / CONFIG
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder} is not an exported model: {CONFIG} is missing (export one with `vlmkit export`)")
    config = json.loads(config_path.read_text())
    if config.get("format") != FORMAT:
        hint = " (a Llava checkpoint: load it with transformers' LlavaForConditionalGeneration)" if config.get("model_type") == "llava" else ""
        raise ValueError(f"{folder} is not in the vlmkit export format{hint}")
    if config.get("format_version", 0) > VERSION:
        raise ValueError(f"{folder} was exported in format version {config['format_version']}; this vlmkit reads up to {VERSION}: upgrade vlmkit")
    return config


def load_export(path: str | os.PathLike, trust_remote_code: bool = False) -> tuple["VisionLanguageModel", "ModelConfig"]:
    """``(model, model_config)`` from a vlmkit export; the model is in eval mode on the CPU.

    Code shipped in the folder runs only with ``trust_remote_code=True``; nothing the folder says enables it.
    """
    from vlmkit.config import ModelConfig
    from vlmkit.model.vlm import VisionLanguageModel

    folder = Path(path)
    config = read_config(folder)
    parts = {part: read_part(folder / sub, trust_remote_code) for part, sub in config["parts"].items()}
    model = VisionLanguageModel(parts["vision_encoder"], parts["projector"], parts["llm"]).eval()
    if model.num_image_tokens != config["num_image_tokens"] or model.image_token_id != config["image_token_id"]:
        raise ValueError(
            f"{folder}: the reloaded model gives {model.num_image_tokens} tokens per image (image token id "
            f"{model.image_token_id}) but was exported with {config['num_image_tokens']} ({config['image_token_id']})"
        )
    return model, ModelConfig.model_validate(config["model"])


def from_pretrained(path: str | os.PathLike, trust_remote_code: bool = False) -> "VisionLanguageModel":
    """Load a model written by ``vlmkit export OUT`` (vlmkit format): ``vlmkit.from_pretrained(OUT)``.

    The model is in eval mode on the CPU; its ``chat_template`` attribute names the recipe's chat
    template (what ``vlmkit generate``/``eval`` prompt it with). ``trust_remote_code=True`` lets
    model code shipped in the folder run (only do so for a folder you trust); options written in the
    folder never turn it on.
    """
    model, config = load_export(path, trust_remote_code)
    model.chat_template = config.chat_template
    return model
