"""Inputs for conformance checks and the "works inside a tiny VLM" check.

Partner components (the parts not under test) come from the registry by name, built without
pretrained weights: by default the ``tiny_vit`` encoder, the ``mlp`` projector and the
``tiny_llama`` LLM. A partner spec is a dict ``{"name": registered_name, **options}``, the same
shape as a recipe's ``model.vision_encoder`` / ``projector`` / ``llm`` entry.
"""

from __future__ import annotations

import random
from typing import Any

import torch

from vlmkit.model.build import BuildContext, build_component
from vlmkit.model.splice import IGNORE_INDEX

DEFAULT_PARTNERS = {
    "vision_encoders": {"name": "tiny_vit"},
    "projectors": {"name": "mlp"},
    "llms": {"name": "tiny_llama"},
}
#: Partners are built without pretrained weights.
PARTNER_CONTEXT = BuildContext(load_weights=False)


def random_images(n: int, seed: int, sizes: tuple[tuple[int, int], ...] = ((40, 28), (24, 24), (17, 33))) -> list:
    """``n`` random RGB PIL images of varied (non-square) sizes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for w, h in (sizes[i % len(sizes)] for i in range(n))
    ]


def build_partner(kind: str, spec: dict[str, Any], context: BuildContext = PARTNER_CONTEXT) -> Any:
    """Build a registered partner component from ``{"name": ..., **options}`` in ``context``."""
    return build_component(kind, spec, context)


def project_for(vision: Any, llm: Any, spec: dict[str, Any]) -> Any:
    """A partner projector from ``vision``'s width/tokens/grid to ``llm``'s width."""
    return build_partner("projectors", spec, PARTNER_CONTEXT.after("vision_encoders", vision).after("llms", llm))


def vlm_batch(model: Any, seed: int = 0, images_per_row: tuple[int, ...] = (1, 2)) -> dict[str, torch.Tensor]:
    """A batch per the contract in :mod:`vlmkit.model.splice` for ``model`` (a VisionLanguageModel).

    Row ``i`` holds ``images_per_row[i]`` image runs between short texts; shorter rows are
    right-padded. Returns input_ids, labels, attention_mask, position_ids ``[B, L]`` and
    pixel_values ``[N, 3, H, W]``.
    """
    rng = random.Random(seed)
    tok = model.tokenizer
    words = tok("a small red square above a blue circle", add_special_tokens=False)["input_ids"]
    k, image_id = model.num_image_tokens, model.image_token_id
    rows = []
    for n_images in images_per_row:
        ids: list[int] = []
        for _ in range(n_images):
            ids += rng.sample(words, min(3, len(words))) + [image_id] * k
        rows.append(ids + rng.sample(words, min(4, len(words))))
    length = max(len(r) for r in rows)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    input_ids = torch.full((len(rows), length), pad, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    for i, r in enumerate(rows):
        input_ids[i, : len(r)] = torch.tensor(r)
        attention[i, : len(r)] = 1
    labels = input_ids.masked_fill(attention == 0, IGNORE_INDEX)
    position_ids = (attention.cumsum(-1) - 1).clamp(min=0)
    images = random_images(sum(images_per_row), seed)
    pixel_values = torch.stack([model.image_transform(im) for im in images])
    return {
        "input_ids": input_ids,
        "labels": labels,
        "attention_mask": attention,
        "position_ids": position_ids,
        "pixel_values": pixel_values,
    }


def check_in_tiny_vlm(vision: Any, projector: Any, llm: Any, subject: str) -> None:
    """Forward + backward of a VisionLanguageModel made of the three parts: the loss is finite and
    the part named ``subject`` (``vision_encoder``, ``projector`` or ``llm``), if it has trainable
    parameters, gets finite gradients."""
    from vlmkit.model.vlm import VisionLanguageModel

    torch.manual_seed(0)
    model = VisionLanguageModel(vision, projector, llm).train()
    batch = vlm_batch(model)
    out = model(**batch)
    assert out.logits.shape[:2] == batch["input_ids"].shape, f"logits {tuple(out.logits.shape)} for input_ids {tuple(batch['input_ids'].shape)}"
    assert out.loss is not None and torch.isfinite(out.loss), f"loss is {out.loss}"
    assert int(out.num_target_tokens) > 0
    out.loss.backward()
    part = getattr(model, subject)
    got = [p.grad for p in part.parameters() if p.requires_grad]
    assert not got or any(g is not None and g.abs().sum() > 0 for g in got), f"the {subject} received no gradient inside the VLM"
    assert all(torch.isfinite(g).all() for g in got if g is not None), f"the {subject} got non-finite gradients"
