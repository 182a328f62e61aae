"""Acceptance: ``vlmkit train recipes/tiny.yaml`` trains align -> pretrain -> sft on CPU on the
embedded tiny data, in process, with the loss falling; a rerun skips every stage."""

import pytest

from vlmkit.cli import main
from vlmkit.storage.layout import read_history
from train_helpers import ROOT

RECIPE = str(ROOT / "recipes" / "tiny.yaml")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tiny")
    assert main(["train", RECIPE, f"trainer.run_dir={run_dir}", "trainer.progress_bar=false"]) == 0
    return run_dir


def test_three_stages_train_with_falling_loss(run_dir, capsys):
    rows = read_history(run_dir, ["align", "pretrain", "sft"])
    assert [r["stage"] for r in rows] == ["align"] * 8 + ["pretrain"] * 8 + ["sft"] * 8
    by_stage = {s: [r["loss"] for r in rows if r["stage"] == s] for s in ("align", "pretrain", "sft")}
    assert by_stage["pretrain"][-1] < by_stage["pretrain"][0] - 0.5
    assert rows[-1]["loss"] < rows[0]["loss"] - 1.0
    assert all(r["tokens"] > 0 and r["tokens_per_sec"] > 0 for r in rows)


def test_rerun_skips_and_reports(run_dir, capsys):
    assert main(["train", RECIPE, f"trainer.run_dir={run_dir}", "trainer.progress_bar=false"]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped (finished before)") == 3


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["train", RECIPE, f"trainer.run_dir={tmp_path}", "--stage", "finetune"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["vlmkit train: error: --stage 'finetune' is not a stage of recipe 'tiny'; stages: align, pretrain, sft"]
    assert main(["train", RECIPE, f"trainer.run_dir={tmp_path}", "trainer.precision=amp_bf16"]) == 1
    assert "needs a GPU" in capsys.readouterr().err
