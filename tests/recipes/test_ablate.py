"""``vlmkit ablate``: every arm validates at every scale; the tiny scale trains, scores and reports."""

import json
from pathlib import Path

import pytest
import yaml

from tests.recipes.conftest import RECIPES
from vlmkit.cli import main
from vlmkit.config import load_recipe
from vlmkit.experiments.ablation import ablate, find_scale, plan
from vlmkit.experiments.manifest import load_manifest

ABLATIONS = RECIPES / "ablations"
SCALES = sorted(p.stem for p in (RECIPES / "scales").glob("*.yaml"))


@pytest.mark.parametrize("scale", SCALES)
def test_every_arm_becomes_a_valid_recipe_at_every_scale(scale, tmp_path):
    manifest, root = load_manifest(ABLATIONS)
    runs = plan(root, manifest.comparisons, find_scale(scale, root), tmp_path)
    arms = [a for r in runs.values() for a in r.arms]
    assert len(arms) == sum(len(c.arms) for c in manifest.comparisons.values())
    assert len(runs) < len(arms)  # arms identical to the base recipe run once
    for run in runs.values():
        recipe = load_recipe(run.recipe_path)
        assert Path(recipe.trainer.run_dir) == run.folder
    by_arm = {a: load_recipe(r.recipe_path) for r in runs.values() for a in r.arms}
    # what each ablation changes survives the scale
    assert by_arm[("llm_during_pretraining", "frozen")].stages["pretrain"].trainable == ["projector"]
    assert by_arm[("pretraining_data", "coyo")].stages["pretrain"].mixture == "coyo_25m"
    assert by_arm[("sft_text_blending", "visual_only")].stages["sft"].mixture == "sharegpt4v_sft+vflan"
    assert by_arm[("projector", "transformer")].model.projector.name == "transformer"
    assert by_arm[("token_downsampling", "downsample_2x2")].model.projector.name == "downsample"
    low, high = (by_arm[("resolution", a)].model.vision_encoder.options()["image_size"] for a in ("res224", "res336"))
    assert low < high


def test_dry_run_trains_nothing(tmp_path, capsys):
    assert main(["ablate", str(ABLATIONS), "--scale", "tiny", "--out", str(tmp_path), "--dry-run"]) == 0
    assert not list(tmp_path.glob("runs/*/align"))
    assert not (tmp_path / "ablations.md").exists()


def test_unknown_scale_lists_the_known_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="no scale 'huge'.*embedded.*tiny"):
        ablate(ABLATIONS, "huge", tmp_path, log=lambda m: None)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablate")
    report = ablate(ABLATIONS, "tiny", out, ["projector", "sft_text_blending"], log=lambda m: None)
    return out, report


def test_tiny_ablation_writes_report_chart_and_scores(tiny_report):
    out, report = tiny_report
    text = report.read_text()
    assert "| projector | vqa | linear > transformer |" in text
    assert "| sft_text_blending | vqa | text_blend >= visual_only |" in text
    assert "| sft_text_blending | text | text_blend > visual_only | n/a |" in text  # no text task at this scale
    row = next(line for line in text.splitlines() if line.startswith("| projector | vqa |")).split("|")
    assert row[5].strip().startswith("linear - transformer = ") and ", n=" in row[5]  # paired interval over the items
    assert row[6].strip() in ("yes", "no")
    assert "| visual_only |" in text and "| transformer |" in text
    assert (out / "ablations.png").read_bytes()[:4] == b"\x89PNG"
    scores = json.loads((out / "scores.json").read_text())["scores"]
    assert set(scores["projector"]) == {"linear", "transformer"}
    assert all(isinstance(scores["projector"][a]["vqa"], float) for a in ("linear", "transformer"))
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == 3  # linear == text_blend: the base recipe runs once
    for run in runs:
        assert (run / "sft" / "model.safetensors").is_file()
        assert yaml.safe_load((run / "recipe.yaml").read_text())["trainer"]["run_dir"] == str(run)
    visual, transformer = (next(r for r in runs if r.name.startswith(p)) for p in ("abl-sft-visual-only", "abl-projector-transformer"))
    (base,) = set(runs) - {visual, transformer}

    def same(a, b, stage):
        return (a / stage / "model.safetensors").read_bytes() == (b / stage / "model.safetensors").read_bytes()

    # visual_only differs from the base only in its SFT data: align and pretrain trained once, shared
    assert same(base, visual, "align") and same(base, visual, "pretrain") and not same(base, visual, "sft")
    assert not same(base, transformer, "align")  # another projector: nothing to share


def _stamps(out: Path, pattern: str) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in out.glob(pattern)}


def test_a_rerun_reads_finished_runs_back(tiny_report):
    out, _ = tiny_report
    done, evals = _stamps(out, "runs/*/*/done.json"), _stamps(out, "runs/*/eval/*.json")
    lines = []
    ablate(ABLATIONS, "tiny", out, ["projector", "sft_text_blending"], log=lines.append)
    assert _stamps(out, "runs/*/*/done.json") == done and _stamps(out, "runs/*/eval/*.json") == evals
    assert sum("read back" in line for line in lines) == len(evals)


def test_a_task_added_to_the_scale_is_the_only_thing_that_runs(tiny_report, tmp_path):
    out, _ = tiny_report
    scale = yaml.safe_load((RECIPES / "scales" / "tiny.yaml").read_text())
    scale["merge"]["eval"]["tasks"].append({"name": "embedded_text", "options": {"per_family": 1}})
    scale["metrics"]["text"] = {"task": "embedded_text", "score": "accuracy"}
    (tmp_path / "tiny_text.yaml").write_text(yaml.safe_dump(scale))
    runs, done, evals = sorted((out / "runs").iterdir()), _stamps(out, "runs/*/*/done.json"), _stamps(out, "runs/*/eval/*.json")
    report = ablate(ABLATIONS, str(tmp_path / "tiny_text.yaml"), out, ["projector", "sft_text_blending"], log=lambda m: None)
    assert sorted((out / "runs").iterdir()) == runs  # evaluation is not part of a run's identity
    assert _stamps(out, "runs/*/*/done.json") == done  # nothing retrained
    assert {p: t for p, t in _stamps(out, "runs/*/eval/*.json").items() if p in evals} == evals  # nor re-evaluated
    assert sorted(p.name for p in out.glob("runs/*/eval/embedded_text.json")) == ["embedded_text.json"] * len(runs)
    row = next(line for line in report.read_text().splitlines() if line.startswith("| sft_text_blending | text |"))
    assert "n/a" not in row
