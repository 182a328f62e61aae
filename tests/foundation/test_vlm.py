"""The assembled VisionLanguageModel on tiny components."""

import pytest
import torch

from vlmkit import build_vlm

CFG = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_vlm(CFG)


def batch_with(model, images_per_row):
    """Rows of text with the given number of image runs each; images in reading order."""
    k, img = model.num_image_tokens, model.image_token_id
    rows = []
    for n in images_per_row:
        row = [5, 6]
        for _ in range(n):
            row += [img] * k + [7]
        rows.append(row)
    length = max(map(len, rows))
    ids = torch.tensor([r + [0] * (length - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (length - len(r)) for r in rows])
    size = model.image_transform.size
    pixels = torch.randn(sum(images_per_row), 3, size, size)
    return ids, mask, pixels


def test_mixed_image_counts_across_the_batch(model):
    ids, mask, pixels = batch_with(model, [0, 1, 3])
    labels = ids.masked_fill(mask == 0, -100)
    out = model(ids, pixels, attention_mask=mask, labels=labels)
    assert out.logits.shape[:2] == ids.shape
    assert torch.isfinite(out.loss)
    # labels on image positions never count: targets = text positions after the first, unmasked
    text_targets = ((labels[:, 1:] != -100) & (ids[:, 1:] != model.image_token_id)).sum()
    assert out.num_target_tokens == text_targets
    out.loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.projector.parameters())


def test_images_change_the_output_only_where_they_can_be_seen(model):
    ids, mask, pixels = batch_with(model, [1])
    a = model(ids, pixels, attention_mask=mask).logits
    b = model(ids, pixels + 1.0, attention_mask=mask).logits
    first_image = int((ids[0] == model.image_token_id).nonzero()[0])
    assert torch.allclose(a[0, :first_image], b[0, :first_image], atol=1e-6), "causality: text before the image"
    assert not torch.allclose(a[0, first_image:], b[0, first_image:])


def test_too_few_images_is_an_error(model):
    ids, mask, pixels = batch_with(model, [2])
    with pytest.raises(ValueError, match="placeholders and images disagree"):
        model(ids, pixels[:1], attention_mask=mask)


def test_frozen_encoder_runs_without_autograd_and_bf16_tower_feeds_fp32_projector():
    model = build_vlm(CFG)
    model.vision_encoder.requires_grad_(False).to(torch.bfloat16)
    size = model.image_transform.size
    feats = model.encode_images(torch.randn(2, 3, size, size, dtype=torch.bfloat16))
    assert feats.dtype == torch.float32 and feats.shape == (2, model.num_image_tokens, model.llm.hidden_size)
    assert feats.requires_grad  # the trainable projector still builds a graph
    assert feats.grad_fn is not None and all(p.grad is None for p in model.vision_encoder.parameters())


@pytest.mark.parametrize("target_share", [0.0, 0.2, 1.0])
def test_logits_at_targets_only_give_the_same_loss_and_gradients(target_share):
    torch.manual_seed(1)
    model = build_vlm(CFG)
    ids, mask, pixels = batch_with(model, [1, 2, 0])
    keep = torch.rand(ids.shape, generator=torch.Generator().manual_seed(2)) < target_share
    labels = ids.masked_fill((mask == 0) | ~keep, -100)
    runs = []
    for targets_only in (False, True):
        model.zero_grad()
        out = model(ids, pixels, attention_mask=mask, labels=labels, targets_only=targets_only)
        out.loss.backward()
        runs.append((out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (full, full_grads), (part, part_grads) = runs
    torch.testing.assert_close(part.loss, full.loss)
    assert part.num_target_tokens == full.num_target_tokens
    assert part.logits.shape[1] == len(part.positions) <= ids.shape[1] - 1
    torch.testing.assert_close(part.logits, full.logits[:, part.positions])
    assert part_grads.keys() == full_grads.keys()
    for name, grad in full_grads.items():
        torch.testing.assert_close(part_grads[name], grad, msg=name)
