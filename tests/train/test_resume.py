"""Interruption: a run killed with SIGKILL (at a random step, or in the middle of a checkpoint write)
and started again with the same command ends with the same weights and loss history as a run that
was never interrupted."""

import random
import subprocess
import time

import pytest
import torch
from safetensors.torch import load_file

from vlmkit.storage.layout import LATEST, WEIGHTS, StageDir, read_history
from vlmkit.train import resume
from train_helpers import ROOT, SCRIPT, python, recipe_dict, stage, subprocess_env, write_recipe

pytestmark = pytest.mark.slow
STAGES = {"pretrain": stage(["projector", "llm"], batches=8), "sft": stage(["projector", "llm"], batches=4, lr=1e-3)}


def command(tmp_path, name, *extra):
    path = write_recipe(tmp_path / f"{name}.yaml", recipe_dict(tmp_path / name, stages=STAGES, save_interval="1ba"))
    return [python(), str(SCRIPT), str(path), *extra], tmp_path / name


def finish(cmd):
    done = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def outcome(run_dir):
    weights = {s: load_file(run_dir / s / WEIGHTS) for s in STAGES}
    losses = [(r["stage"], r["step"], r["loss"]) for r in read_history(run_dir, STAGES)]
    return weights, losses


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    cmd, run_dir = command(tmp_path_factory.mktemp("ref"), "ref")
    finish(cmd)
    return outcome(run_dir)


def assert_same(got, reference):
    weights, losses = got
    ref_weights, ref_losses = reference
    assert losses == ref_losses
    for stage_name, tensors in ref_weights.items():
        for key, value in tensors.items():
            assert torch.equal(weights[stage_name][key], value), f"{stage_name}: {key} differs"


@pytest.mark.parametrize("seed", [3, 11])
def test_sigkill_at_a_random_step_then_rerun(tmp_path, reference, seed):
    rng = random.Random(seed)
    kill_after = rng.randint(2, 10)  # history rows (steps over both stages) before the kill
    cmd, run_dir = command(tmp_path, "run")
    proc = subprocess.Popen(cmd, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if len(read_history(run_dir, STAGES)) >= kill_after:
            time.sleep(rng.uniform(0, 0.05))  # land anywhere in the next step
            proc.kill()
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -9, "the run ended before it could be killed; lower kill_after"
    finish(cmd)
    assert_same(outcome(run_dir), reference)


def test_sigkill_in_the_middle_of_a_checkpoint_write(tmp_path, reference):
    cmd, run_dir = command(tmp_path, "run")
    killed = subprocess.run(cmd + ["--kill-in-save", "5"], env=subprocess_env(), capture_output=True, timeout=300)
    assert killed.returncode == -9
    folder = run_dir / "pretrain"
    assert [b for b, _ in StageDir(folder).checkpoints()] == [4]  # the last good checkpoint is intact...
    assert any(p.name.startswith(".tmp-") for p in folder.iterdir())  # ...beside the torn write
    assert (folder / LATEST).resolve().name == "ba4.pt"
    assert resume.damage(folder / "ba4.pt") is None  # its checksum matches: the rerun resumes from it
    finish(cmd)
    assert not any(p.name.startswith(".tmp-") for p in folder.iterdir())
    assert_same(outcome(run_dir), reference)


def test_streaming_data_resumes_mid_epoch(tmp_path):
    """The same with the real loader (Streaming, embedded tiny data, packing) through `python -m vlmkit.train`."""
    def cmd(name):
        return [python(), "-m", "vlmkit.train", str(ROOT / "recipes" / "tiny.yaml"), f"trainer.run_dir={tmp_path / name}",
                "trainer.save_interval=1ba", "trainer.progress_bar=false", "stages.align.duration=3ba",
                "stages.pretrain.duration=4ba", "stages.sft.duration=3ba"]
    stages = ("align", "pretrain", "sft")
    finish(cmd("ref"))
    proc = subprocess.Popen(cmd("run"), env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and len(read_history(tmp_path / "run", stages)) < 5:
        time.sleep(0.005)  # kill during pretrain's 2nd step: mid-stage, mid-epoch
    proc.kill()
    assert proc.wait() == -9
    finish(cmd("run"))
    got = [(r["stage"], r["step"], r["loss"]) for r in read_history(tmp_path / "run", stages)]
    assert got == [(r["stage"], r["step"], r["loss"]) for r in read_history(tmp_path / "ref", stages)]
    for s in stages:
        ref, run = load_file(tmp_path / "ref" / s / WEIGHTS), load_file(tmp_path / "run" / s / WEIGHTS)
        assert all(torch.equal(run[k], v) for k, v in ref.items()), s
