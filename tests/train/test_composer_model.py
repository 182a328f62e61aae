"""The Composer wrapper: loss, metrics, FLOPs, idle image path, CPU autocast."""

import pytest
import torch

from vlmkit.model.splice import mask_image_labels, shift_targets, target_positions
from vlmkit.train.composer_model import VLMComposerModel
from vlmkit.train.freezing import set_trainable
from vlmkit.train.metrics import next_token_targets
from train_helpers import tiny_batch


def test_loss_is_the_models_token_mean_loss(model):
    batch = tiny_batch(model)
    wrapped = VLMComposerModel(model).eval()
    out = wrapped(batch)
    assert torch.equal(wrapped.loss(out, batch), model(**batch).loss)
    assert int(out.num_target_tokens) == int((next_token_targets(batch, model.image_token_id) != -100).sum())


def test_metrics_score_perfect_and_wrong_predictions(model):
    wrapped = VLMComposerModel(model)
    batch = tiny_batch(model)
    targets = next_token_targets(batch, model.image_token_id)
    metrics = wrapped.get_metrics(is_train=True)
    out = wrapped.eval()(batch)
    # logits that put all mass on the right next token
    perfect = torch.full_like(out.logits, -30.0)
    keep = targets != -100
    rows, cols = keep.nonzero(as_tuple=True)
    perfect[rows, cols, targets[rows, cols]] = 30.0
    out.logits = perfect
    wrapped.update_metric(batch, out, metrics["TokenAccuracy"])
    assert metrics["TokenAccuracy"].compute() == pytest.approx(1.0)
    wrapped.update_metric(batch, out, metrics["Perplexity"])
    assert metrics["Perplexity"].compute() == pytest.approx(float(torch.exp(out.loss)), rel=1e-5)


def test_flops_per_batch_counts_images_and_tokens(model):
    wrapped = VLMComposerModel(model)
    batch = tiny_batch(model)
    rows, length = batch["input_ids"].shape
    f = wrapped.flops.train_flops(rows, length, batch["pixel_values"].shape[0])
    # training computes logits only at the positions that predict a target
    labels = mask_image_labels(batch["labels"], batch["input_ids"], model.image_token_id)
    keep = len(target_positions(shift_targets(labels, batch.get("position_ids"))))
    assert keep < length
    assert wrapped.flops_per_batch(batch) == wrapped.flops.train_flops(rows, length, batch["pixel_values"].shape[0], keep)
    assert 0 < wrapped.flops_per_batch(batch) < f


def test_text_only_batch_still_gives_the_projector_a_gradient(model):
    set_trainable(model, ["projector", "llm"])
    wrapped = VLMComposerModel(model).train()
    batch = tiny_batch(model)
    text = {k: v for k, v in batch.items() if k != "pixel_values"}
    text["input_ids"] = text["input_ids"].masked_fill(text["input_ids"] == model.image_token_id, 40)
    text["labels"] = text["input_ids"].clone()
    loss = wrapped.loss(wrapped(text), text)
    loss.backward()
    grads = [p.grad for p in model.projector.parameters()]
    assert all(g is not None and torch.count_nonzero(g) == 0 for g in grads)
    assert torch.allclose(loss, model(**text).loss)


def test_cpu_autocast_runs_matmuls_in_bfloat16(model):
    wrapped = VLMComposerModel(model, autocast_dtype=torch.bfloat16).eval()
    out = wrapped(tiny_batch(model))
    assert out.logits.dtype == torch.bfloat16
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)


def test_missing_labels_is_a_clear_error(model):
    wrapped = VLMComposerModel(model).eval()
    batch = {k: v for k, v in tiny_batch(model).items() if k != "labels"}
    with pytest.raises(ValueError, match="no 'labels'"):
        wrapped.loss(wrapped(batch), batch)


def test_training_forward_keeps_target_logits_and_metrics_read_them(model):
    wrapped = VLMComposerModel(model)
    batch = tiny_batch(model)
    trained = wrapped.train()(batch)
    full = wrapped.eval()(batch)
    assert trained.positions is not None and trained.logits.shape[1] == len(trained.positions) < full.logits.shape[1]
    torch.testing.assert_close(trained.loss, full.loss)
    accuracy = {}
    for name, out in (("train", trained), ("eval", full)):
        metric = wrapped.get_metrics()["TokenAccuracy"]
        wrapped.update_metric(batch, out, metric)
        accuracy[name] = metric.compute()
    torch.testing.assert_close(accuracy["train"], accuracy["eval"])
