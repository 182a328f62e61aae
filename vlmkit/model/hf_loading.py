"""Building Hugging Face models from a hub name, a local folder, or a shipped config (no weights)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch

from vlmkit.model.assets import shipped_config, shipped_names

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def parse_dtype(name: str | None) -> torch.dtype | str | None:
    """``"bfloat16"``/``"bf16"``/... -> ``torch.dtype``; ``None`` and ``"auto"`` pass through."""
    if name is None or name == "auto":
        return name
    if name not in DTYPES:
        raise ValueError(f"unknown torch_dtype {name!r}; use one of: auto, {', '.join(DTYPES)}")
    return DTYPES[name]


def load_config(config_cls: Any, pretrained: str, load_weights: bool, overrides: dict | None = None, **kwargs: Any) -> Any:
    """The config of ``pretrained`` (local folder, hub name, or -- without weights -- a shipped JSON).

    Without weights nothing is downloaded: only local folders, shipped JSONs and the HF cache are read.
    ``config_cls`` is e.g. ``CLIPVisionConfig`` or ``AutoConfig``; ``kwargs`` go to its
    ``from_pretrained``; ``overrides`` then set config fields.
    """
    source: str | Path = pretrained
    if not load_weights and not Path(pretrained).is_dir() and shipped_config(pretrained) is not None:
        source = shipped_config(pretrained)
    try:
        config = config_cls.from_pretrained(str(source), local_files_only=not load_weights, **kwargs)
    except OSError as exc:
        raise FileNotFoundError(
            f"cannot find the config of {pretrained!r} (not a local folder, not in the Hugging Face cache, "
            f"and the hub is unreachable); give a local folder, or with load_weights=False one of the shipped "
            f"names: {', '.join(shipped_names())}"
        ) from exc
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    return config


def instantiate(model_cls: Any, config: Any, pretrained: str, load_weights: bool, random_init: bool = False, **kwargs: Any) -> Any:
    """``model_cls.from_pretrained(pretrained, config=config, **kwargs)``; with ``random_init`` the
    architecture with fresh random weights on the current default device (``with torch.device(...)``;
    no weights are read); without weights the bare architecture on the meta device (no memory, no
    files: for planning and validation), also with ``random_init``.

    ``model_cls`` is a concrete model class or an ``AutoModel*`` class (built with ``from_config``).
    """
    if load_weights and not random_init:
        try:
            return model_cls.from_pretrained(pretrained, config=config, **kwargs)
        except OSError as exc:
            raise FileNotFoundError(f"cannot load weights of {pretrained!r}: {exc}".splitlines()[0]) from exc
    auto = getattr(model_cls, "from_config", None)  # Auto* classes; concrete classes have _from_config
    options = {"attn_implementation": kwargs["attn_implementation"]} if kwargs.get("attn_implementation") else {}
    if auto:
        options["trust_remote_code"] = kwargs.get("trust_remote_code", False)
    with contextlib.nullcontext() if load_weights else torch.device("meta"):
        model = (auto or model_cls._from_config)(config, **options)
    dtype = kwargs.get("dtype")
    return model.to(dtype) if isinstance(dtype, torch.dtype) else model
