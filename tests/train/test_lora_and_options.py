"""LoRA stages, activation checkpointing, CPU bf16, loggers and crash-safe checkpoint files."""

import json
import os

import pytest
import torch
from safetensors.torch import load_file

from vlmkit.config import LoraConfig
from vlmkit.storage.atomic import remove_temporaries
from vlmkit.storage.layout import DONE, WEIGHTS, StageDir, read_history
from vlmkit.train.loggers import build_loggers
from vlmkit.train.lora import add_lora, merge_lora, merged_state_dict
from vlmkit.train.stages import build_stage_model, run_recipe
from vlmkit.train.trainer import build_stage
from vlmkit.testing.synthetic import synthetic_factory
from train_helpers import make_recipe, stage, tiny_batch

DATA = synthetic_factory(num_rows=32)


def test_lora_trains_adapters_only_and_merges_back(tmp_path):
    lora = {"llm": {"r": 4, "alpha": 8, "targets": ["q_proj", "v_proj"]}}
    recipe = make_recipe(tmp_path, stages={"s": stage(["projector", "llm"], lr=1e-2, batches=3, lora=lora)})
    start = build_stage_model(recipe, "s").state_dict()
    run_recipe(recipe, dataloader_factory=DATA)
    final = load_file(tmp_path / "s" / WEIGHTS)
    assert set(final) == set(start)  # merged: the plain architecture again
    changed = {k for k in final if not torch.equal(final[k], start[k])}
    llm_changed = {k.rsplit(".", 2)[-2] for k in changed if k.startswith("llm.")}
    assert llm_changed == {"q_proj", "v_proj"}
    assert any(k.startswith("projector.") for k in changed)


def test_merge_keeps_the_function(model):
    batch = tiny_batch(model)
    add_lora(model, {"llm": LoraConfig(r=2, targets=["q_proj", "o_proj"])}, ["llm"])
    for name, p in model.llm.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)  # non-zero adapters
    model.eval()
    with torch.no_grad():
        before = model(**batch).logits
        assert merge_lora(model) == 4  # 2 layers x 2 targets
        after = model(**batch).logits
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)
    assert not any("lora" in k for k in model.state_dict())


@pytest.mark.slow
def test_lora_and_clipping_under_fsdp2_two_processes_match_one(tmp_path):
    """LoRA adapters sharded with their blocks by FSDP2: two processes measure and clip the same
    global grad norm (sharded DTensor gradients, gloo's sums corrected) and train and merge the
    same final weights as one process."""
    import subprocess
    import sys
    from pathlib import Path

    from train_helpers import SCRIPT, recipe_dict, subprocess_env, write_recipe

    lora = {"llm": {"r": 4, "alpha": 8, "targets": ["q_proj", "v_proj"]}}
    stages = {"s": stage(["projector", "llm"], lr=1e-2, batches=3, lora=lora, max_grad_norm=0.05)}
    run_recipe(make_recipe(tmp_path / "one", stages=stages), dataloader_factory=synthetic_factory(num_rows=64))
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict(tmp_path / "two", stages=stages, parallelism="fsdp2"))
    composer = str(Path(sys.executable).with_name("composer"))
    done = subprocess.run([composer, "-n", "2", str(SCRIPT), str(recipe)], env=subprocess_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    norms = [[r["grad_norm"] for r in read_history(tmp_path / run, ["s"])] for run in ("one", "two")]
    assert norms[1] == pytest.approx(norms[0], rel=1e-4) and all(n > 0.05 for n in norms[0])  # every step clipped
    one, two = load_file(tmp_path / "one" / "s" / WEIGHTS), load_file(tmp_path / "two" / "s" / WEIGHTS)
    assert set(two) == set(one) and not any("lora" in k for k in two)
    start = build_stage_model(make_recipe(tmp_path / "fresh", stages=stages), "s").state_dict()
    assert not torch.equal(two["llm.model.model.layers.0.self_attn.q_proj.weight"], start["llm.model.model.layers.0.self_attn.q_proj.weight"])
    for key, value in one.items():
        torch.testing.assert_close(two[key], value, rtol=1e-4, atol=1e-5, msg=f"{key} differs")


def test_merged_state_dict_equals_merging_in_place(model):
    """The stage's final weights are folded from the (gathered) state dict: same tensors as merging
    the layers in place, plain keys, biases carried over; with activation checkpointing too."""
    from vlmkit.train.composer_model import VLMComposerModel
    from vlmkit.train.parallel import apply_activation_checkpointing, mark_wrapping

    add_lora(model, {"llm": LoraConfig(r=2, targets=["q_proj", "o_proj"]), "projector": LoraConfig(r=2, targets=["0", "2"])},
             ["llm", "projector"])
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)
    wrapped = VLMComposerModel(model)
    mark_wrapping(wrapped)
    apply_activation_checkpointing(wrapped)
    merged = merged_state_dict(model, model.state_dict())
    assert merge_lora(model) == 6
    expected = model.state_dict()
    assert set(merged) == set(expected) and any(k.startswith("projector.") and k.endswith(".bias") for k in merged)
    for key, value in expected.items():
        torch.testing.assert_close(merged[key], value, msg=key)
    assert merged_state_dict(model, {}) == {}  # FSDP2 ranks other than 0 receive no full state dict


def test_lora_errors(model):
    with pytest.raises(ValueError, match=r"lora is set for \['vision_encoder'\], which are not trainable"):
        add_lora(model, {"vision_encoder": LoraConfig()}, ["llm"])
    with pytest.raises(ValueError, match="match no layer of the llm"):
        add_lora(model, {"llm": LoraConfig(targets=["no_such_proj"])}, ["llm"])


@pytest.mark.parametrize("trainer", [{"activation_checkpointing": True}, {"precision": "bf16"}])
def test_options_train_like_the_default(tmp_path, trainer):
    stages = {"s": stage(["projector", "llm"], batches=3)}
    run_recipe(make_recipe(tmp_path / "base", stages=stages), dataloader_factory=DATA)
    run_recipe(make_recipe(tmp_path / "opt", stages=stages, **trainer), dataloader_factory=DATA)
    base = [r["loss"] for r in read_history(tmp_path / "base", ["s"])]
    other = [r["loss"] for r in read_history(tmp_path / "opt", ["s"])]
    exact = "activation_checkpointing" in trainer  # recomputation changes nothing; bf16 rounds
    assert other == (pytest.approx(base, rel=1e-6) if exact else pytest.approx(base, rel=0.05))
    assert set(load_file(tmp_path / "opt" / "s" / WEIGHTS)) == set(load_file(tmp_path / "base" / "s" / WEIGHTS))


def test_sample_loss_reduction_reaches_the_trainer(tmp_path):
    """Synthetic samples all have the same number of targets, so per-sample and per-token averaging
    must train identically, microbatched too (Composer weighs microbatches by samples, not tokens)."""
    token = {"s": stage(["projector", "llm"], batches=3, microbatch_size=4)}
    sample = {"s": stage(["projector", "llm"], batches=3, microbatch_size=4, loss_reduction="sample")}
    run_recipe(make_recipe(tmp_path / "token", stages=token), dataloader_factory=DATA)
    recipe = make_recipe(tmp_path / "sample", stages=sample)
    run = build_stage(recipe, "s", build_stage_model(recipe, "s"), DATA)
    assert run.trainer.state.model.loss_reduction == "sample"
    run.trainer.close()
    run_recipe(recipe, dataloader_factory=DATA)
    by_token = [r["loss"] for r in read_history(tmp_path / "token", ["s"])]
    by_sample = [r["loss"] for r in read_history(tmp_path / "sample", ["s"])]
    assert by_sample == pytest.approx(by_token, rel=1e-5)


def test_file_logger_and_unknown_logger(tmp_path):
    stages = {"s": stage(["projector"], batches=2)}
    run_recipe(make_recipe(tmp_path, stages=stages, loggers={"file": {}}), dataloader_factory=DATA)
    log = (tmp_path / "s" / "log-rank0.txt").read_text()
    assert "loss/train/total" in log
    with pytest.raises(ValueError, match="trainer.loggers.tensorbord: unknown logger; did you mean 'tensorboard'"):
        build_loggers({"tensorbord": {}}, tmp_path)


def test_torn_files_are_never_picked(tmp_path):
    (tmp_path / "ba3.pt").write_bytes(b"complete")
    (tmp_path / ".tmp-123-ba7.pt").write_bytes(b"torn")
    (tmp_path / "ba12.pt").write_bytes(b"complete")
    assert StageDir(tmp_path).newest_checkpoint().name == "ba12.pt"
    remove_temporaries(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["ba12.pt", "ba3.pt"]
    StageDir(tmp_path).mark_done({"batches": 3})
    assert StageDir(tmp_path).read_done() == {"batches": 3}
    assert json.loads((tmp_path / DONE).read_text()) == {"batches": 3}
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())


def test_activation_checkpointing_wraps_every_block(model):
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper

    from vlmkit.train.composer_model import VLMComposerModel
    from vlmkit.train.parallel import apply_activation_checkpointing, blocks, mark_wrapping

    wrapped = VLMComposerModel(model)
    n_blocks = len(blocks(model))
    assert n_blocks == 4  # 2 encoder layers + 2 decoder layers
    mark_wrapping(wrapped)
    apply_activation_checkpointing(wrapped)
    assert sum(isinstance(m, CheckpointWrapper) for m in wrapped.modules()) == n_blocks
    batch = tiny_batch(model)
    wrapped.train()(batch).loss.backward()
    assert all(p.grad is not None for p in model.llm.parameters())
