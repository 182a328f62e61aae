"""Two processes through Composer's launcher (gloo on the CPU): same result as one process with
the same global batch; one rank failing stops the run with that rank's error instead of hanging."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vlmkit.storage.layout import WEIGHTS, StageDir, read_history
from vlmkit.train.stages import run_recipe
from vlmkit.testing.synthetic import synthetic_factory
from vlmkit.cli import main
from train_helpers import ROOT, SCRIPT, make_recipe, recipe_dict, stage, subprocess_env, write_recipe

pytestmark = pytest.mark.slow
COMPOSER = str(Path(sys.executable).with_name("composer"))


def run(cmd, timeout=400):
    return subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)


TINY = str(ROOT / "recipes" / "tiny.yaml")
TINY_STAGES = ("align", "pretrain", "sft")
STAGES = {"s": stage(["projector", "llm"], batches=4, batch=8)}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same recipe in this process, world size 1."""
    run_dir = tmp_path_factory.mktemp("one")
    run_recipe(make_recipe(run_dir, stages=STAGES), dataloader_factory=synthetic_factory(num_rows=64))
    return load_file(run_dir / "s" / WEIGHTS), read_history(run_dir, ["s"])


def test_fsdp2_two_processes_match_one(tmp_path, single):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict(tmp_path / "two", stages=STAGES, parallelism="fsdp2"))
    done = run([COMPOSER, "-n", "2", str(SCRIPT), str(recipe)])
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert_same(single, load_file(tmp_path / "two" / "s" / WEIGHTS), read_history(tmp_path / "two", ["s"]))
    assert StageDir(tmp_path / "two" / "s").read_done()["world_size"] == 2


def test_module_launch_of_the_tiny_recipe_matches_one_process(tmp_path):
    """``composer -n 2 -m vlmkit.train recipes/tiny.yaml`` (DDP, embedded data) vs ``vlmkit train``."""
    args = [TINY, "trainer.progress_bar=false", *(f"stages.{s}.duration=3ba" for s in TINY_STAGES)]
    assert main(["train", *args, f"trainer.run_dir={tmp_path / 'one'}"]) == 0
    done = run([COMPOSER, "-n", "2", "-m", "vlmkit.train", *args, f"trainer.run_dir={tmp_path / 'two'}"])
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for s in TINY_STAGES:
        one = load_file(tmp_path / "one" / s / WEIGHTS), read_history(tmp_path / "one", [s])
        assert_same(one, load_file(tmp_path / "two" / s / WEIGHTS), read_history(tmp_path / "two", [s]))


def assert_same(single, weights, history):
    w1, h1 = single
    assert [r["loss"] for r in history] == pytest.approx([r["loss"] for r in h1], rel=1e-4)
    for key, value in w1.items():
        torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=1e-5, msg=f"{key} differs")


def test_one_failing_rank_stops_the_run_with_its_error(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict(tmp_path / "run", stages={"s": stage(["projector"], batches=20)}))
    done = run([COMPOSER, "-n", "2", str(SCRIPT), str(recipe), "--fail-rank", "1"], timeout=300)
    assert done.returncode != 0
    assert "simulated failure on rank 1" in done.stdout + done.stderr
    assert StageDir(tmp_path / "run" / "s").read_done() is None
