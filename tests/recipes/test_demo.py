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
    row = next(line for line in table.splitlines() if line.startswith("| easy_vqa | accuracy |")).split("|")
    chance, blind, after, ci = float(row[3]), float(row[4]), float(row[6]), row[7].strip()
    assert 0 < chance < blind < 1  # the answer prior beats a uniform guess
    low, high = map(float, ci.strip("[]").split(","))
    assert low <= after <= high
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (run_dir / "sft" / "model.safetensors").is_file()
    assert (out / "eval-after" / "easy_vqa.json").is_file()
    forecasts = [line for line in lines if line.startswith("demo: expected about")]
    assert len(forecasts) == 2  # after align and after pretrain (nothing but evaluation is left after sft)
    assert "GFLOP/s so far" in forecasts[0] and "20-minute budget" in forecasts[0]


def test_the_untrained_models_scores_are_shared_by_every_run_folder(demo, tmp_path):
    from vlmkit.config import load_recipe
    from vlmkit.experiments.demo import BEFORE_ITEMS, capped
    from vlmkit.experiments.runs import evaluate_model, initial_fingerprint

    out, run_dir, _ = demo
    recipe = capped(load_recipe(RECIPES / "embedded_tiny.yaml", [f"trainer.run_dir={tmp_path / 'another-run'}"]), BEFORE_ITEMS)
    lines = []

    def load():
        raise AssertionError("the untrained model's scores should come from the cache")

    folder = tmp_path / "another-run" / "demo" / "eval-before"
    scores = evaluate_model(load, recipe, folder, lines.append, weights=initial_fingerprint(recipe), shared=True)
    assert scores == json.loads((out / "scores.json").read_text())["before"]
    assert sum("read back from the cache" in line for line in lines) == len(TASKS)
    assert {p.name for p in folder.glob("*.json")} == {p.name for p in (out / "eval-before").glob("*.json")}


def _stamps(folder):
    return {p: p.stat().st_mtime_ns for p in folder.glob("*.json")}


def test_a_rerun_reuses_the_trained_stages_and_scores(demo, capsys):
    out, run_dir, _ = demo
    done = {s: (run_dir / s / "done.json").stat().st_mtime_ns for s in ("align", "pretrain", "sft")}
    evals = _stamps(out / "eval-before") | _stamps(out / "eval-after")
    assert len(evals) == 2 * len(TASKS)
    assert main(["demo", "--recipe", str(RECIPES / "embedded_tiny.yaml"), "--threads", "1", f"trainer.run_dir={run_dir}"]) == 0
    assert torch.get_num_threads() == 1
    assert {s: (run_dir / s / "done.json").stat().st_mtime_ns for s in done} == done
    assert _stamps(out / "eval-before") | _stamps(out / "eval-after") == evals
    printed = capsys.readouterr().out
    assert "| task | score | chance | blind | before | after | 95% CI | change |" in printed


def test_score_table_shows_the_change_with_baselines_and_interval():
    details = {"t": {"intervals": {"accuracy": [0.7, 0.8]}, "baselines": {"chance": {"accuracy": 0.5}, "blind": {"accuracy": 0.66}}}}
    table = score_table({"t": {"accuracy": 0.25}}, {"t": {"accuracy": 0.75}, "u": {"cider": 0.5}}, details)
    assert "| t | accuracy | 0.500 | 0.660 | 0.250 | 0.750 | [0.700, 0.800] | +0.500 |" in table
    assert "| u | cider | - | - | n/a | 0.500 | - |  |" in table


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


def test_evaluations_are_redone_for_other_weights_or_tasks(demo):
    from vlmkit.config import load_recipe
    from vlmkit.experiments.runs import evaluate_model, trained_model, weights_fingerprint

    out, run_dir, _ = demo
    recipe_path = RECIPES / "embedded_tiny.yaml"
    overrides = [f"trainer.run_dir={run_dir}", "eval.tasks=[{name: easy_vqa, limit: 4}, {name: emoji_caption, limit: 2}]"]
    recipe = load_recipe(recipe_path, overrides)
    loads = []

    def load():
        loads.append(1)
        return trained_model(recipe_path, overrides, recipe)

    folder = out / "eval-other"
    first = evaluate_model(load, recipe, folder, lambda m: None, weights=weights_fingerprint(recipe))
    assert list(first) == ["easy_vqa", "emoji_caption"]
    assert len(loads) == 1  # one load serves every task that runs
    assert evaluate_model(load, recipe, folder, lambda m: None, weights=weights_fingerprint(recipe)) == first and len(loads) == 1
    evaluate_model(load, recipe, folder, lambda m: None, weights="other weights")
    assert len(loads) == 2
