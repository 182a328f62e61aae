"""The harness on a tiny model (skips, batching invariance, likelihood mode), load_model, and the
``vlmkit eval`` / ``vlmkit generate`` commands on a recipe with trained stage weights."""

import json

import pytest
import torch
import yaml
from tests.eval.conftest import TINY
from PIL import Image

from vlmkit.cli import main
from vlmkit.eval.harness import evaluate
from vlmkit.eval.likelihood import continuation_logprobs
from vlmkit.eval.loading import load_model
from vlmkit.eval.prompts import PromptBuilder
from vlmkit.eval.tasks import build_task


@pytest.fixture()
def gqa_files(tmp_path):
    img = tmp_path / "img"
    img.mkdir()
    for i in range(5):
        Image.new("RGB", (20, 14), (50 * i, 90, 200 - 40 * i)).save(img / f"{i}.jpg")
    (img / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    questions = {str(i): {"imageId": str(i), "question": f"Which color is {i}?", "answer": "blue"} for i in range(5)}
    questions["b"] = {"imageId": "broken", "question": "?", "answer": "x"}
    questions["m"] = {"imageId": "missing", "question": "?", "answer": "x"}
    (tmp_path / "q.json").write_text(json.dumps(questions))
    return {"questions": str(tmp_path / "q.json"), "images": str(img)}


def test_evaluate_counts_skips_and_is_batch_invariant(tiny_vlm, gqa_files):
    runs = [evaluate(tiny_vlm, build_task("gqa", gqa_files), batch_size=b) for b in (1, 4)]
    for r in runs:
        assert r.num_examples == 6 and len(r.predictions) == 5
        assert r.skipped == {"missing_image": 1, "truncated_image": 1}
        assert set(r.scores) == {"accuracy"}
    assert [p.text for p in runs[0].predictions] == [p.text for p in runs[1].predictions]
    limited = evaluate(tiny_vlm, build_task("gqa", gqa_files), limit=2)
    assert [p.example.id for p in limited.predictions] == ["0", "1"]


def test_few_shot_run_is_reproducible(tiny_vlm, gqa_files):
    opts = {**gqa_files, "support": {}}
    a, b = (evaluate(tiny_vlm, build_task("gqa", opts), shots=2, seed=3, limit=3) for _ in range(2))
    assert a.shots == 2 and a.shot_method == "random"
    assert [p.text for p in a.predictions] == [p.text for p in b.predictions]
    assert a.skipped["support_missing_image"] == 1


def test_likelihood_mode_picks_the_most_likely_option(tiny_vlm, tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "art_test.csv").write_text("Pick one,red,green,blue,black,C\nAnother,w,x,y,z,A\n")
    task = build_task("mmlu", {"root": tmp_path})
    result = evaluate(tiny_vlm, task)
    builder = PromptBuilder(tiny_vlm)
    for p in result.predictions:
        ids, _ = builder.encode(task, p.example)
        scores = continuation_logprobs(tiny_vlm, ids, [builder.option_ids(o) for o in p.example.options])
        assert p.parsed == max(range(4), key=lambda i: scores[i])
        assert p.score == float(p.parsed == p.example.target)


@pytest.fixture()
def trained_recipe(tmp_path, gqa_files):
    """A tiny recipe whose 'sft' stage has final weights (a perturbed model) in its run_dir."""
    from vlmkit.model.vlm import build_vlm
    from vlmkit.storage.layout import StageDir
    from vlmkit.storage.weights import save_weights

    recipe = {
        "name": "tiny", "model": {**TINY, "chat_template": "chatml"},
        "datasets": {"d": {"kind": "pairs", "local": str(tmp_path / "data")}},
        "stages": {"sft": {"trainable": ["projector"], "mixture": {"d": 1.0}, "optimizer": {"lr": 1e-3}, "global_batch_size": 2, "duration": "1ba"}},
        "trainer": {"run_dir": str(tmp_path / "run")},
        "eval": {"tasks": [{"name": "gqa", "options": gqa_files, "limit": 2}], "batch_size": 2},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    model = build_vlm(TINY)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    stage = StageDir(tmp_path / "run" / "sft")
    stage.folder.mkdir(parents=True)
    save_weights(model, stage.weights)
    stage.mark_done({"stage": "sft"})  # where and how vlmkit train leaves a finished stage
    return path, model


def test_load_model_takes_the_last_finished_stage(trained_recipe):
    path, saved = trained_recipe
    loaded = load_model(path, device="cpu")
    assert loaded.chat_template == "chatml" and loaded.name == "tiny"
    for a, b in zip(loaded.model.state_dict().values(), saved.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="not a stage"):
        load_model(path, stage="pretrain")
    with pytest.raises(FileNotFoundError, match="none of"):
        load_model(path.with_suffix(".txt"))


def test_eval_command_writes_results(trained_recipe, gqa_files, tmp_path, capsys):
    path, _ = trained_recipe
    assert main(["eval", str(path), "--device", "cpu"]) == 0  # the recipe's eval.tasks
    out = capsys.readouterr().out
    assert "| gqa | 0 | accuracy |" in out
    written = json.loads((tmp_path / "run" / "eval" / "gqa.json").read_text())
    assert written["num_predictions"] == 2 and len(written["predictions"]) == 2
    args = ["eval", str(path), "--task", "gqa", "--shots", "1", "--json", "--output", str(tmp_path / "o")]
    clean = {str(i): {"imageId": str(i), "question": "Which color?", "answer": "blue"} for i in range(5)}
    (tmp_path / "support.json").write_text(json.dumps(clean))
    args += [f"-o{k}={v}" for k, v in gqa_files.items()] + ["-o", f"support.questions={tmp_path / 'support.json'}", "--limit", "3"]
    assert main(args) == 0
    (summary,) = json.loads(capsys.readouterr().out)
    assert summary["shots"] == 1 and summary["num_predictions"] == 3
    assert (tmp_path / "o" / "gqa_1shot.json").is_file()


def test_exported_folder_is_a_model(trained_recipe, gqa_files, tmp_path, capsys):
    from vlmkit.export import export

    path, saved = trained_recipe
    out = export(str(path), tmp_path / "exported")
    loaded = load_model(out, device="cpu")
    assert loaded.chat_template == "chatml"
    for a, b in zip(loaded.model.state_dict().values(), saved.state_dict().values()):
        assert torch.equal(a, b)
    args = ["eval", str(out), "--task", "gqa", "--limit", "2", "--output", str(tmp_path / "o"), "--json"]
    assert main(args + [f"-o{k}={v}" for k, v in gqa_files.items()]) == 0
    assert json.loads(capsys.readouterr().out)[0]["num_predictions"] == 2


def test_eval_and_generate_errors_are_one_line(trained_recipe, capsys):
    path, _ = trained_recipe
    assert main(["eval", str(path), "--task", "gqx"]) == 1
    assert "did you mean 'gqa'" in capsys.readouterr().err
    assert main(["eval", str(path), "-o", "questions=q.json"]) == 1
    assert "need --task" in capsys.readouterr().err
    assert main(["generate", str(path), "--image", "nope.png", "--prompt", "hi"]) == 1
    assert "nope.png does not exist" in capsys.readouterr().err


def test_generate_command(trained_recipe, gqa_files, capsys):
    path, _ = trained_recipe
    image = f"{gqa_files['images']}/0.jpg"
    args = ["generate", str(path), "--image", image, "--image", image, "--prompt", "Compare <image> and <image>", "--max-new-tokens", "4", "--json", "--device", "cpu"]
    assert main(args) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["tokens"] <= 4 and reply["finish"] in ("eos", "length")
    assert main(args[:6] + ["--prompt", "only <image> here"]) == 1
    assert "1 <image> marker(s) for 2 image(s)" in capsys.readouterr().err
