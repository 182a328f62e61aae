"""Shared builders for the model-component tests."""

import pytest
import torch

from vlmkit.model.llm.tiny_llama import tiny_llama


@pytest.fixture(scope="module")
def llm():
    torch.manual_seed(0)
    return tiny_llama()


def image_batch(model, texts_per_row: list[list[int]], n_images_per_row: list[int]):
    """input_ids [B, L] with one run of placeholders per image after each row's text prefix."""
    k, img = model.num_image_tokens, model.image_token_id
    rows = [t + [img] * (k * n) + [7, 8] for t, n in zip(texts_per_row, n_images_per_row)]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), model.tokenizer.pad_token_id)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask
