"""``vlmkit demo --tiny``: data, scores before, three stages, scores after, table and curves; a rerun reuses it all."""

import json

import pytest
import torch

from tests.recipes.conftest import RECIPES
from vlmkit.cli import main
from vlmkit.experiments.demo import run_demo, score_table

TASKS = {"easy_vqa", "emoji_caption", "fewshot_names"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("demo") / "run"
    lines = []
    out = run_demo(RECIPES / "embedded_tiny.yaml", [f"trainer.run_dir={run_dir}"], log=lines.append)
    return out, run_dir, lines


def test_demo_scores_before_and_after_and_plots_curves(demo):
    out, run_dir, lines = demo
    result = json.loads((out / "scores.json").read_text())
    assert set(result["before"]) == set(result["after"]) == TASKS
    assert set(result["stages"]) == {"align", "pretrain", "sft"}
    assert all(s["batches"] > 0 for s in result["stages"].values())
    for phase in ("data", "evaluate before training", "train", "evaluate after training"):
        assert result["seconds"][phase] > 0
        assert any(line.endswith(")") and f"] {phase}: done in" in line for line in lines)
    table = (out / "scores.md").read_text()
    assert "| easy_vqa | accuracy |" in table and "| fewshot_names | accuracy |" in table
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (run_dir / "sft" / "model.safetensors").is_file()
    assert (out / "eval-after" / "easy_vqa.json").is_file()


def test_a_rerun_reuses_the_trained_stages_and_scores(demo, capsys):
    out, run_dir, _ = demo
    done = {s: (run_dir / s / "done.json").stat().st_mtime_ns for s in ("align", "pretrain", "sft")}
    before = (out / "before.json").read_text()
    assert main(["demo", "--recipe", str(RECIPES / "embedded_tiny.yaml"), "--threads", "1", f"trainer.run_dir={run_dir}"]) == 0
    assert torch.get_num_threads() == 1
    assert {s: (run_dir / s / "done.json").stat().st_mtime_ns for s in done} == done
    assert (out / "before.json").read_text() == before
    assert "| task | score | before | after | change |" in capsys.readouterr().out


def test_score_table_shows_the_change():
    table = score_table({"t": {"accuracy": 0.25}}, {"t": {"accuracy": 0.75}, "u": {"cider": 0.5}})
    assert "| t | accuracy | 0.250 | 0.750 | +0.500 |" in table
    assert "| u | cider | n/a | 0.500 |  |" in table


def test_a_recipe_without_eval_tasks_is_refused(tmp_path):
    with pytest.raises(ValueError, match="the demo needs eval.tasks"):
        run_demo(RECIPES / "embedded_tiny.yaml", ["eval.tasks=[]", f"trainer.run_dir={tmp_path}"], log=lambda m: None)


def test_tasks_of_the_same_name_get_labels_from_their_options():
    from vlmkit.experiments.runs import result_label

    taken = {"fewshot_names": {}}
    assert result_label("easy_vqa_4shot", {}, taken) == "easy_vqa_4shot"
    assert result_label("fewshot_names", {"ways": 3, "episodes": 9}, taken) == "fewshot_names[episodes=9,ways=3]"
    with pytest.raises(ValueError, match="lists fewshot_names\\[ways=3\\] twice"):
        result_label("fewshot_names", {"ways": 3}, {"fewshot_names": {}, "fewshot_names[ways=3]": {}})


def test_bad_thread_count_is_a_one_line_error(capsys):
    assert main(["demo", "--tiny", "--threads", "0"]) == 1
    assert capsys.readouterr().err.strip() == "vlmkit demo: error: --threads must be at least 1, got 0"
