"""Two processes through Composer's launcher (gloo on the CPU): same result as one process with
the same global batch; one rank failing stops the run with that rank's error instead of hanging."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vlmkit.train import checkpoint as ckpt
from vlmkit.train.history import read_history
from vlmkit.train.stages import run_recipe
from vlmkit.train.synthetic import synthetic_factory
from train_helpers import SCRIPT, make_recipe, recipe_dict, stage, subprocess_env, write_recipe

pytestmark = pytest.mark.slow
COMPOSER = str(Path(sys.executable).with_name("composer"))


def run(cmd, timeout=400):
    return subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)


STAGES = {"s": stage(["projector", "llm"], batches=4, batch=8)}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same recipe in this process, world size 1."""
    run_dir = tmp_path_factory.mktemp("one")
    run_recipe(make_recipe(run_dir, stages=STAGES), dataloader_factory=synthetic_factory(num_rows=64))
    return load_file(run_dir / "s" / ckpt.WEIGHTS), read_history(run_dir, ["s"])


@pytest.mark.parametrize("parallelism", ["ddp", "fsdp2"])
def test_two_processes_match_one(tmp_path, single, parallelism):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict(tmp_path / "two", stages=STAGES, parallelism=parallelism))
    done = run([COMPOSER, "-n", "2", str(SCRIPT), str(recipe)])
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    w1, h1 = single
    w2, h2 = load_file(tmp_path / "two" / "s" / ckpt.WEIGHTS), read_history(tmp_path / "two", ["s"])
    assert [r["loss"] for r in h2] == pytest.approx([r["loss"] for r in h1], rel=1e-4)
    assert ckpt.read_done(tmp_path / "two" / "s")["world_size"] == 2
    for key, value in w1.items():
        torch.testing.assert_close(w2[key], value, rtol=1e-4, atol=1e-5, msg=f"{key} differs")


def test_one_failing_rank_stops_the_run_with_its_error(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict(tmp_path / "run", stages={"s": stage(["projector"], batches=20)}))
    done = run([COMPOSER, "-n", "2", str(SCRIPT), str(recipe), "--fail-rank", "1"], timeout=300)
    assert done.returncode != 0
    assert "simulated failure on rank 1" in done.stdout + done.stderr
    assert ckpt.read_done(tmp_path / "run" / "s") is None
