"""The ablation manifest: every comparison's arms exist, validate, share a base and really differ."""

from pathlib import Path

import pytest
import yaml

from vlmkit.config import RecipeError, load_recipe
from vlmkit.config.loading import read_yaml
from vlmkit.experiments.manifest import load_manifest, select
from vlmkit.experiments.scale import apply_scale, arm_parts

ABLATIONS = Path(__file__).resolve().parents[2] / "recipes" / "ablations"
MANIFEST, ROOT = load_manifest(ABLATIONS)


def test_the_manifest_covers_the_papers_ablations():
    assert set(MANIFEST.comparisons) == {
        "llm_during_pretraining", "pretraining_data", "sft_text_blending", "resolution", "token_downsampling", "projector"}
    assert all(cmp.expect for cmp in MANIFEST.comparisons.values())


@pytest.mark.parametrize("name", list(MANIFEST.comparisons))
def test_arms_share_one_base_validate_and_differ(name):
    cmp = MANIFEST.comparisons[name]
    bases = {read_yaml(ROOT / f)["base"] for f in cmp.arms.values()}
    assert len(bases) == 1, f"{name}: arms inherit different bases {bases}"
    resolved = [apply_scale(*arm_parts(ROOT / f)[:2], None) for f in cmp.arms.values()]
    for f in cmp.arms.values():
        load_recipe(ROOT / f)
    keys = [yaml.safe_dump(r, sort_keys=True) for r in resolved]
    assert len(set(keys)) == len(keys), f"{name}: two arms resolve to the same recipe"


def test_unknown_metric_in_expect_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("base: a.yaml\n")
    (tmp_path / "ablations.yaml").write_text(
        "comparisons:\n  c:\n    finding: f\n    arms: {x: a.yaml, y: a.yaml}\n    metrics: [vqa]\n    expect: {text: x > y}\n")
    with pytest.raises(RecipeError, match="comparisons.c: expect names metric 'text'"):
        load_manifest(tmp_path)


def test_missing_arm_file_is_reported(tmp_path):
    (tmp_path / "ablations.yaml").write_text(
        "comparisons:\n  c:\n    finding: f\n    arms: {x: gone.yaml, y: gone.yaml}\n    metrics: [vqa]\n")
    with pytest.raises(RecipeError, match="comparisons.c.arms.x: 'gone.yaml' does not exist"):
        load_manifest(tmp_path)


def test_select_names_unknown_comparisons():
    assert list(select(MANIFEST, ["projector", "resolution"])) == ["resolution", "projector"]
    with pytest.raises(ValueError, match="unknown comparisons \\['projectr'\\]"):
        select(MANIFEST, ["projectr"])
