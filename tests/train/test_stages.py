"""A tiny recipe trains align -> pretrain -> sft in process: loss falls, frozen parts stay put,
stages chain through their final weights, finished stages are skipped."""

import json

import pytest
import torch
from safetensors.torch import load_file

from vlmkit.storage.layout import DONE, LATEST, WEIGHTS, StageDir, read_history
from vlmkit.train.stages import build_stage_model, run_recipe
from vlmkit.testing.synthetic import synthetic_factory
from train_helpers import make_recipe, stage, write_recipe

DATA = synthetic_factory(num_rows=64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    recipe = make_recipe(run_dir)
    return recipe, run_recipe(recipe, dataloader_factory=DATA)


def test_all_three_stages_train_and_the_loss_falls(trained):
    recipe, summaries = trained
    assert list(summaries) == ["align", "pretrain", "sft"]
    rows = read_history(recipe.trainer.run_dir, recipe.stages)
    assert [r["step"] for r in rows] == list(range(1, 7)) * 3
    losses = [r["loss"] for r in rows]
    assert losses[-1] < losses[0] - 0.5
    assert summaries["pretrain"]["final_loss"] < summaries["pretrain"]["first_loss"]
    for name in recipe.stages:
        folder = StageDir(f"{recipe.trainer.run_dir}/{name}").read_done()
        assert folder["batches"] == 6


def test_align_changes_only_the_projector_and_keeps_no_state_for_frozen_parts(trained):
    recipe, _ = trained
    torch.manual_seed(recipe.trainer.seed)
    init = build_stage_model(recipe, "align").state_dict()
    final = load_file(f"{recipe.trainer.run_dir}/align/{WEIGHTS}")
    changed = {k.split(".")[0] for k in final if not torch.equal(final[k], init[k])}
    assert changed == {"projector"}
    state = torch.load(StageDir(f"{recipe.trainer.run_dir}/align").newest_checkpoint(), weights_only=False)
    opt_state = next(iter(state["state"]["optimizers"].values()))["state"]
    n_projector = sum(1 for k in init if k.startswith("projector."))
    assert len(opt_state) == n_projector


def test_each_stage_starts_from_the_previous_final_weights(trained):
    recipe, _ = trained
    start = build_stage_model(recipe, "sft").state_dict()
    previous = load_file(f"{recipe.trainer.run_dir}/pretrain/{WEIGHTS}")
    assert all(torch.equal(start[k], previous[k]) for k in previous)
    sft = load_file(f"{recipe.trainer.run_dir}/sft/{WEIGHTS}")
    assert not torch.equal(sft["llm.model.lm_head.weight"], previous["llm.model.lm_head.weight"])
    assert torch.equal(sft["vision_encoder.pos"], previous["vision_encoder.pos"])


def test_rerun_skips_finished_stages(trained):
    recipe, first = trained
    again = run_recipe(recipe, dataloader_factory=DATA)
    assert all(s["skipped"] for s in again.values())
    assert again["sft"]["final_loss"] == first["sft"]["final_loss"]


def test_single_stage_and_unknown_stage(tmp_path):
    recipe = make_recipe(tmp_path, stages={"a": stage(["projector"], batches=2), "b": stage(["llm"], batches=2)})
    only_b = run_recipe(recipe, stage="b", dataloader_factory=DATA)
    assert list(only_b) == ["b"] and not (tmp_path / "a").exists()
    with pytest.raises(ValueError, match="--stage 'c' is not a stage.*stages: a, b"):
        run_recipe(recipe, stage="c", dataloader_factory=DATA)


def test_grad_accumulation_matches_one_big_batch(tmp_path):
    """Microbatches of 2 give the same step as the whole batch of 8 (token-weighted accumulation)."""
    results = {}
    for micro in (None, 2):
        recipe = make_recipe(tmp_path / str(micro), stages={"s": stage(["projector", "llm"], batches=3, microbatch_size=micro)})
        run_recipe(recipe, dataloader_factory=DATA)
        results[micro] = load_file(tmp_path / str(micro) / "s" / WEIGHTS)
    for k, v in results[None].items():
        torch.testing.assert_close(results[2][k], v, rtol=1e-4, atol=1e-5)


def test_checkpoint_interval_and_keep(tmp_path):
    recipe = make_recipe(tmp_path, stages={"s": stage(["projector"], batches=5)}, save_interval="1ba", save_num_checkpoints_to_keep=2)
    run_recipe(recipe, dataloader_factory=DATA)
    assert [b for b, _ in StageDir(tmp_path / "s").checkpoints()] == [4, 5]
    assert (tmp_path / "s" / LATEST).resolve().name == "ba5.pt"
    assert json.loads((tmp_path / "s" / DONE).read_text())["batches"] == 5


def test_without_autoresume_a_rerun_starts_over(tmp_path):
    recipe = make_recipe(tmp_path, stages={"s": stage(["projector"], batches=4)}, autoresume=False)
    first = run_recipe(recipe, dataloader_factory=DATA)["s"]
    (tmp_path / "s" / "ba99.pt").write_bytes(b"stale")  # must not be mistaken for progress
    again = run_recipe(recipe, dataloader_factory=DATA)["s"]
    assert "skipped" not in again and again["resumed_from"] is None
    assert again["final_loss"] == first["final_loss"]
    assert [b for b, _ in StageDir(tmp_path / "s").checkpoints()] == [4]


def test_stages_chain_for_a_model_that_builds_on_meta_without_weights(tmp_path):
    """An LLM loaded from a folder builds on the meta device without weights: later stages and the
    evaluation loader must still start from the previous stage's weights (rotary buffers intact)."""
    from tests.ecosystem.tiny_hf import save_llama
    from vlmkit.eval.loading import load_model
    from vlmkit.model.vlm import build_vlm

    data = make_recipe(tmp_path / "run").model_dump()
    folder = save_llama(tmp_path / "llama")
    data["model"]["llm"] = {"name": "hf_causal_lm", "pretrained": str(folder)}
    recipe = make_recipe(tmp_path / "run", stages={"a": stage(["projector"], batches=2), "b": stage(["llm"], batches=2)})
    recipe = recipe.model_copy(update={"model": type(recipe.model).model_validate(data["model"])})
    assert any(p.is_meta for p in build_vlm(recipe.model, load_weights=False).parameters())
    summaries = run_recipe(recipe, dataloader_factory=DATA)
    assert summaries["b"]["batches"] == 2
    start_b = build_stage_model(recipe, "b")
    fresh = build_vlm(recipe.model)
    for (name, buf), ref in zip(start_b.named_buffers(), fresh.buffers()):
        assert torch.equal(buf, ref), name
    after_a = load_file(tmp_path / "run" / "a" / WEIGHTS)
    assert all(torch.equal(start_b.state_dict()[k], v) for k, v in after_a.items())
    path = write_recipe(tmp_path / "recipe.yaml", recipe.model_dump(mode="json"))
    evaluated = load_model(str(path), [], stage="b").model
    after_b = load_file(tmp_path / "run" / "b" / WEIGHTS)
    assert all(torch.equal(evaluated.state_dict()[k], v) for k, v in after_b.items())
