"""The data benchmarks run end to end in --quick mode (so they cannot rot) and print a ratio."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name,extra", [("data_loading", []), ("data_loading", ["--max-image-side", "336"]), ("packing", [])])
def test_benchmark_quick(name, extra, capsys):
    ratio = load(name).main(["--quick", *extra])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"ratio: {ratio:.2f}" and ratio > 0
    assert not extra or "converted with --max-image-side 336" in out[0]  # the converter option was used
