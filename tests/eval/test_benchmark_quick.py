"""Smoke test of benchmarks/eval_throughput.py (the real measurement is run by hand)."""

import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "eval_throughput.py"


def test_eval_throughput_quick(capsys):
    main = runpy.run_path(str(SCRIPT))["main"]
    ratio = main(["--quick", "--prompts", "3", "--max-new-tokens", "3"])
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == f"ratio: {ratio:.2f}" and ratio > 0
    assert "identical replies: 3/3" in out  # cached batched greedy == uncached one-at-a-time
