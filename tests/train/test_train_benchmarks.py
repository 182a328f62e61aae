"""The training benchmarks run in their quick modes, so they cannot rot (figures: benchmarks/README.md)."""

import importlib.util
import sys

import pytest

from train_helpers import ROOT

BENCHMARKS = str(ROOT / "benchmarks")


def load(name: str):
    if BENCHMARKS not in sys.path:  # the scripts import their harness (steptimer) from beside them
        sys.path.insert(0, BENCHMARKS)
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frozen_encoder_keeps_fewer_activations(capsys):
    ratio = load("frozen_encoder").main(["--tiny"])
    assert ratio > 1.0  # the encoder's activations are not kept without autograd
    assert capsys.readouterr().out.splitlines()[-1] == f"ratio: {ratio:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("name, args", [
    ("train_step", ["--quick"]), ("cpu_mfu", ["--tiny"]), ("gpu_mfu", ["--tiny"]), ("scale", ["--quick"]),
    ("gpu_mfu", ["--tiny", "--loop", "plain", "--optimizer", "adamw", "--activation-checkpointing"]),
])
def test_benchmark_runs_and_ends_with_a_ratio(name, args, capsys):
    ratio = load(name).main(args)
    assert ratio > 0
    assert capsys.readouterr().out.splitlines()[-1] == f"ratio: {ratio:.3f}"


def test_gpu_mfu_profile_prints_where_the_time_goes(capsys):
    load("gpu_mfu").main(["--tiny", "--loop", "plain", "--profile"])
    out = capsys.readouterr().out
    assert "Optimizer.step#DecoupledAdamW.step" in out and "aten::mm" in out  # the operator table
