"""``vlmkit plan`` against counts taken from the built model, and offline on a 7B recipe."""

import json

import pytest
import torch

from vlmkit.cli import main
from vlmkit.config import OptimizerConfig, load_recipe
from vlmkit.model.vlm import build_vlm
from vlmkit.train.flops import flop_model
from vlmkit.train.freezing import count_parameters, param_groups, set_trainable
from vlmkit.train.optim import build_optimizer
from vlmkit.train.plan import images_per_record, plan_recipe
from train_helpers import ROOT, tiny_batch

TINY = ROOT / "recipes" / "tiny.yaml"


@pytest.fixture(scope="module")
def recipe():
    return load_recipe(TINY)


@pytest.fixture(scope="module")
def plans(recipe):
    return {p.stage: p for p in plan_recipe(recipe, world_size=1, device="cpu")}


def test_counts_match_the_built_model(recipe, plans):
    torch.manual_seed(0)
    model = build_vlm(recipe.model)
    for name, stage in recipe.stages.items():
        p = plans[name]
        set_trainable(model, stage.trainable)
        assert p.total_params == count_parameters(model)
        assert p.trainable_params == count_parameters(model, trainable_only=True)
        seq = recipe.stage_max_seq_len(name)
        assert p.flops_per_sample == pytest.approx(flop_model(model).train_flops(1, seq, p.images_per_sample))
        assert p.image_tokens_per_sample + p.text_tokens_per_sample == seq
        assert p.image_tokens_per_sample == p.images_per_sample * model.num_image_tokens
        assert p.memory["weights"] == 4 * count_parameters(model)
        assert p.samples == 8 * 8 and p.total_flops == pytest.approx(64 * p.flops_per_sample)


def test_images_per_record_follow_the_mixture(recipe):
    assert images_per_record(recipe, "align") == 1  # pairs
    assert images_per_record(recipe, "sft") == pytest.approx(0.75)  # 3/4 conversations with one image, 1/4 text


def test_optimizer_memory_matches_the_real_state(recipe, plans):
    torch.manual_seed(0)
    model = build_vlm(recipe.model)
    set_trainable(model, recipe.stages["pretrain"].trainable)
    cfg = OptimizerConfig(lr=1e-3)
    opt = build_optimizer(param_groups(model, cfg), cfg)
    model(**tiny_batch(model, seq_len=64)).loss.backward()
    opt.step()
    state = sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values() if t.dim() > 0)
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    assert plans["pretrain"].memory["optimizer"] == state
    assert plans["pretrain"].memory["gradients"] == grads


def test_processes_fsdp_and_checkpointing_change_memory(recipe, plans):
    fsdp = {p.stage: p for p in plan_recipe(recipe.model_copy(update={"trainer": recipe.trainer.model_copy(update={"parallelism": "fsdp2"})}), 2, "cpu")}
    ac = {p.stage: p for p in plan_recipe(recipe.model_copy(update={"trainer": recipe.trainer.model_copy(update={"activation_checkpointing": True})}), 1, "cpu")}
    one = plans["pretrain"]
    assert fsdp["pretrain"].memory["weights"] == one.memory["weights"] / 2
    assert fsdp["pretrain"].memory["optimizer"] == one.memory["optimizer"] / 2
    assert fsdp["pretrain"].device_batch == one.device_batch / 2
    assert ac["pretrain"].memory["activations"] < one.memory["activations"]
    assert plans["align"].memory["gradients"] < one.memory["gradients"] / 10


def test_cli_json_and_time(capsys):
    assert main(["plan", str(TINY), "--json", "--device", "cpu", "--throughput", "1e9"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["stage"] for p in out] == ["align", "pretrain", "sft"]
    assert out[0]["seconds"] == pytest.approx(out[0]["total_flops"] / 1e9)
    assert main(["plan", str(TINY), "--world-size", "3"]) == 1
    assert "does not divide over 3 processes" in capsys.readouterr().err


@pytest.mark.slow
def test_7b_recipe_plans_offline(capsys):
    assert main(["plan", str(ROOT / "recipes" / "vila7b.yaml"), "--world-size", "8", "--json"]) == 0
    plans = {p["stage"]: p for p in json.loads(capsys.readouterr().out)}
    assert plans["pretrain"]["total_params"] == pytest.approx(7.03e9, rel=0.01)
    llm = plans["pretrain"]["trainable_by_part"]["llm"]
    assert llm == pytest.approx(6.74e9, rel=0.01)
    seq = plans["pretrain"]["image_tokens_per_sample"] + plans["pretrain"]["text_tokens_per_sample"]
    assert 1.0 < plans["pretrain"]["flops_per_sample"] / (6 * llm * seq) < 1.4
    # fp32 master weights, gradients and Adam states for what trains, sharded; the frozen tower in bf16
    sft = plans["sft"]
    trained, frozen = sft["trainable_params"], sft["total_params"] - sft["trainable_params"]
    assert (sft["compute_dtype"], sft["bytes_per_trained_param"], sft["sharded"]) == ("bfloat16", 16, True)
    assert sft["memory"]["weights"] == (4 * trained + 2 * frozen) / 8
    assert sft["memory"]["gradients"] == 4 * trained / 8 and sft["memory"]["optimizer"] == 8 * trained / 8
    assert 16 * trained / 8 / 2**30 == pytest.approx(12.56, abs=0.01)  # GiB per H100 for the trained weights' state
