"""Writing one VLM part (vision encoder, projector or LLM) to a folder and reading it back.

Each part folder holds ``vlmkit_part.json`` (which registered component it is, with its options,
and which loader rebuilds it) plus its weights in safetensors:

- Hugging Face LLMs (:class:`HFCausalLM`) are written with ``save_pretrained`` (model + tokenizer),
  so ``llm/`` is also a plain transformers folder (``AutoModelForCausalLM.from_pretrained``).
- Hugging Face towers (:class:`HFVisionTower`) likewise (``AutoModel.from_pretrained``); the folder
  holds the tower as vlmkit runs it (layers past ``select_layer`` already removed).
- Anything else (tiny components, timm encoders, projectors, plugins' components) is rebuilt from
  the registry with ``load_weights=False`` and its ``model.safetensors`` loaded strictly.

The exporter is picked by the part's class (``functools.singledispatch``): a plugin whose
component needs its own format registers one with ``export_part.register(MyClass)``.

Reading never runs code shipped in a folder (``configuration_*.py``, ``modeling_*.py``) unless the
caller passes ``trust_remote_code=True``: a ``trust_remote_code`` option in ``vlmkit_part.json`` is
replaced by the caller's flag, and the Hugging Face loaders get that flag explicitly.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import singledispatch
from pathlib import Path
from typing import Any, Callable

from torch import nn

from vlmkit.model.build import BuildContext, build_component, shape_arguments
from vlmkit.model.llm.hf_backbone import HFCausalLM
from vlmkit.model.vision.base import ImageTransform
from vlmkit.model.vision.hf_tower import HFVisionTower
from vlmkit.storage.layout import WEIGHTS as WEIGHTS_FILE
from vlmkit.storage.weights import load_weights, save_weights

PART_FILE = "vlmkit_part.json"


def on_meta(module: nn.Module) -> bool:
    return any(t.is_meta for t in (*module.parameters(), *module.buffers()))


@singledispatch
def export_part(part: nn.Module, folder: Path) -> dict[str, Any]:
    """Write ``part``'s weights into ``folder``; return how to load them (merged into the part json)."""
    if on_meta(part):
        raise ValueError(f"{type(part).__name__} has weights on the meta device (built without weights); export a trained model")
    save_weights(part, folder / WEIGHTS_FILE)
    return {"loader": "rebuild"}


@export_part.register
def _(part: HFCausalLM, folder: Path) -> dict[str, Any]:
    part.model.save_pretrained(folder)  # safetensors (the default)
    part.tokenizer.save_pretrained(folder)
    return {"loader": "hf_causal_lm", "image_token": part.image_token}


def tower_layout(tower: HFVisionTower) -> dict[str, Any]:
    """What rebuilds an :class:`HFVisionTower` around its HF model: CLS handling, size, transform."""
    side = tower.image_transform.size // tower.model.config.patch_size
    has_cls = tower.drop_cls or tower.num_tokens == side * side + 1
    return {
        "has_cls": has_cls,
        "select_feature": "patch" if tower.drop_cls or not has_cls else "cls_patch",
        "image_size": tower.image_transform.size,
        "transform": asdict(tower.image_transform),
    }


@export_part.register
def _(part: HFVisionTower, folder: Path) -> dict[str, Any]:
    part.model.save_pretrained(folder)  # safetensors (the default)
    return {"loader": "hf_vision_tower", **tower_layout(part)}


def load_rebuild(folder: Path, info: dict[str, Any], trust_remote_code: bool = False) -> nn.Module:
    spec = dict(info["component"])
    if "trust_remote_code" in spec:  # the folder's say is never taken: only the caller's flag
        spec["trust_remote_code"] = trust_remote_code
    part = build_component(info["kind"], spec, BuildContext.from_arguments(info["kind"], info.get("dims", {}), load_weights=False))
    if on_meta(part):
        raise ValueError(
            f"{folder}: component {info['component']['name']!r} builds on the meta device without weights, so it "
            "cannot be filled from model.safetensors; it needs an exporter (vlmkit.export.parts.export_part.register)"
        )
    load_weights(part, folder / WEIGHTS_FILE)
    return part


def load_hf_causal_lm(folder: Path, info: dict[str, Any], trust_remote_code: bool = False) -> nn.Module:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto", trust_remote_code=trust_remote_code)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    return HFCausalLM(model, tokenizer, image_token=info["image_token"])


def load_hf_vision_tower(folder: Path, info: dict[str, Any], trust_remote_code: bool = False) -> nn.Module:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(folder, dtype="auto", trust_remote_code=trust_remote_code)
    return HFVisionTower(model, info["has_cls"], info["select_feature"], info["image_size"], ImageTransform(**_tuples(info["transform"])))


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


LOADERS: dict[str, Callable[[Path, dict[str, Any], bool], nn.Module]] = {
    "rebuild": load_rebuild,
    "hf_causal_lm": load_hf_causal_lm,
    "hf_vision_tower": load_hf_vision_tower,
}


def ships_code(folder: Path) -> bool:
    """Whether the Hugging Face folder ``folder`` names Python modules of its own (``auto_map``)."""
    for name in ("config.json", "tokenizer_config.json"):
        try:
            config = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(config, dict) and config.get("auto_map"):
            return True
    return False


def refuse_shipped_code(folder: Path, info: dict[str, Any]) -> None:
    """Raise when the part folder, or a local folder its options name, ships model code."""
    component = info.get("component")
    named = [Path(v) for v in component.values() if isinstance(v, str)] if isinstance(component, dict) else []
    for source in (folder, *(p for p in named if p.is_dir())):
        if ships_code(source):
            raise ValueError(f"{source} ships Python model code (auto_map), which was not run; "
                             "load with trust_remote_code=True only if you trust it")


def write_part(part: nn.Module, folder: Path, kind: str, component: dict[str, Any], context: BuildContext) -> None:
    """Write ``part`` (registered in ``kind`` as ``component``, built in ``context``) into ``folder``;
    ``dims`` records the shapes its factory took (e.g. a projector's ``in_dim``)."""
    folder.mkdir(parents=True, exist_ok=True)
    dims = shape_arguments(kind, context)
    info = {"kind": kind, "component": component, **({"dims": dims} if dims else {})}
    info.update(export_part(part, folder))
    (folder / PART_FILE).write_text(json.dumps(info, indent=2) + "\n")


def read_part(folder: Path, trust_remote_code: bool = False) -> nn.Module:
    """Rebuild the part written by :func:`write_part` in ``folder``; code shipped in the folder runs
    only with ``trust_remote_code=True`` (the caller's choice; the folder's options cannot ask for it)."""
    path = folder / PART_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not an exported vlmkit part: {PART_FILE} is missing")
    info = json.loads(path.read_text())
    loader = LOADERS.get(info.get("loader", ""))
    if loader is None:
        raise ValueError(f"{path}: unknown loader {info.get('loader')!r}; known: {', '.join(LOADERS)} (exported by a newer vlmkit?)")
    if not trust_remote_code:
        refuse_shipped_code(folder, info)
    return loader(folder, info, trust_remote_code)
