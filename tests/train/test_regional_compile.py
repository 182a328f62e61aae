"""Regional torch.compile (``trainer.compile``): every repeated block compiled in place trains to the
same losses and gradients as eager, identical layers share one graph, and build_stage applies it.

The equality runs under ``backend="aot_eager"`` (dynamo + AOT autograd, the graphs inductor would
get, without code generation): inductor took ~100 s for the first step of this model on 2 CPU
cores, too slow for ``make test``; it is what ``trainer.compile`` runs (its gradients matched eager
within 2e-7 when tried by hand)."""

import copy
import functools

import pytest
import torch
from torch._dynamo.utils import counters

from vlmkit import build_vlm
from vlmkit.train.compile import compile_blocks, compile_enabled
from vlmkit.train.parallel import blocks
from vlmkit.train.stages import build_stage_model
from vlmkit.testing.synthetic import synthetic_factory
from vlmkit.train.trainer import build_stage
from train_helpers import make_recipe, stage

TINY = {  # recipes/tiny.yaml sizes
    "vision_encoder": {"name": "tiny_vit", "image_size": 32, "patch_size": 8, "width": 32, "depth": 2, "heads": 2},
    "projector": {"name": "mlp", "depth": 2},
    "llm": {"name": "tiny_llama", "hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2},
}
STEPS = 3


def packed_batch(model):
    """Two rows, one packed with two samples, three images."""
    k, img = model.num_image_tokens, model.image_token_id
    row0 = [5] + [img] * k + [6, 7, 8] * 3 + [9, 10]
    row1 = [11, 12] + [img] * k + [13, 14] + [img] * k + [15] * 4
    length = max(len(row0), len(row1))
    ids = torch.tensor([row0 + [0] * (length - len(row0)), row1 + [0] * (length - len(row1))])
    positions = torch.tensor([list(range(length)), list(range(k + 4)) + list(range(length - k - 4))])
    mask = (torch.arange(length) < torch.tensor([[len(row0)], [len(row1)]])).long()
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids, "pixel_values": torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1)),
            "attention_mask": mask, "position_ids": positions, "labels": labels}


def train(model, batch):
    """``STEPS`` AdamW steps; the loss and every gradient at each."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    history = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        history.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
        optimizer.step()
    return history


@pytest.fixture(scope="module")
def runs():
    torch.manual_seed(0)
    eager = build_vlm(TINY)
    compiled = copy.deepcopy(eager)
    batch = packed_batch(eager)
    n_blocks = compile_blocks(compiled, backend="aot_eager")
    torch._dynamo.reset()
    counters.clear()
    history = train(compiled, batch)
    frames = dict(counters["frames"])
    return {"eager": train(eager, batch), "compiled": history, "blocks": n_blocks, "frames": frames,
            "model": compiled}


def test_compiled_blocks_train_to_the_same_losses_and_gradients(runs):
    assert runs["blocks"] == 4  # 2 vision blocks + 2 decoder layers
    for (loss_e, grads_e), (loss_c, grads_c) in zip(runs["eager"], runs["compiled"]):
        torch.testing.assert_close(loss_c, loss_e, rtol=1e-5, atol=1e-5)
        assert grads_c.keys() == grads_e.keys() and len(grads_e) > 0
        for name in grads_e:
            torch.testing.assert_close(grads_c[name], grads_e[name], rtol=1e-5, atol=1e-5, msg=name)


def test_identical_layers_share_one_graph_and_names_stay(runs):
    """One frame per block class (tiny_vit's nn.TransformerEncoderLayer, Llama's decoder layer),
    not per layer, and none again on later steps of the same shape; state-dict keys unchanged."""
    assert runs["frames"] == {"total": 2, "ok": 2}
    model = runs["model"]
    assert all(isinstance(b.forward, functools.partial) for b in blocks(model))
    assert set(model.state_dict()) == set(build_vlm(TINY).state_dict())


@pytest.mark.parametrize("setting, device, on", [("auto", "gpu", True), ("auto", "cpu", False), (True, "cpu", True),
                                                 (False, "gpu", False)])
def test_compile_setting_resolves_per_device(setting, device, on):
    assert compile_enabled(setting, device) is on


@pytest.mark.parametrize("setting, compiled", [(True, True), ("auto", False)])
def test_build_stage_compiles_blocks_when_asked(tmp_path, monkeypatch, setting, compiled):
    from vlmkit.train import trainer

    monkeypatch.setattr(trainer, "training_peak", lambda precision: None)
    recipe = make_recipe(tmp_path, stages={"s": stage(["projector", "llm"], batches=1)}, device="cpu", compile=setting)
    model = build_stage_model(recipe, "s")
    run = build_stage(recipe, "s", model, synthetic_factory(num_rows=8))
    assert {isinstance(b.forward, functools.partial) for b in blocks(model)} == {compiled}
    run.trainer.close()


def test_compile_setting_is_validated(tmp_path):
    with pytest.raises(Exception, match="compile"):
        make_recipe(tmp_path, compile="always")
