"""A tiny random VLM (tiny_vit -> mlp -> tiny_llama) in float64, so batched and unbatched runs
agree exactly; and small image helpers."""

import pytest
import torch

from vlmkit.model.vlm import build_vlm
from vlmkit.testing.tiny_vlm import random_images

TINY = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}}


@pytest.fixture(scope="session")
def tiny_vlm():
    torch.manual_seed(0)
    return build_vlm(TINY).double().eval()


@pytest.fixture(scope="session")
def pixel_images(tiny_vlm):
    """Four transformed images ``[3, H, W]`` (float64)."""
    return [tiny_vlm.image_transform(im).double() for im in random_images(4, 0)]


def prompt_ids(model, text: str, n_images: int = 0) -> list[int]:
    """``n_images`` placeholder runs, then ``text``."""
    run = [model.image_token_id] * model.num_image_tokens
    return run * n_images + model.tokenizer(text, add_special_tokens=False)["input_ids"]
