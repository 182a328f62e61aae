"""A :class:`~vlmkit.model.vlm.VisionLanguageModel` built from its config and filled with saved
weights (a stage's final ``model.safetensors``): what training's next stage, evaluation and
export start from."""

from __future__ import annotations

import os

from vlmkit.storage.weights import load_weights


def build_and_load(config, path: str | os.PathLike):
    """The model built from ``config`` (a recipe's ``model:``) holding the weights saved at ``path``.

    Parts that build without weights as real (randomly initialised) tensors are built that way; a
    model with any part on the meta device is rebuilt with its pretrained weights first, since meta
    tensors cannot be filled in place (their non-persistent buffers, e.g. rotary frequencies, would
    stay empty).
    """
    from vlmkit.model.vlm import build_vlm

    model = build_vlm(config, load_weights=False)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        model = build_vlm(config, load_weights=True)
    load_weights(model, path)
    return model
