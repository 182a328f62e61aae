"""The installed third-party plugin in a real run: its recipe (vlmkit's tiny recipe with the
C-Abstractor swapped in) trains through ``vlmkit train``, and the result exports -- from the
recipe and from a real Composer checkpoint -- and reloads with the plugin's projector."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vlmkit.cli import main
from vlmkit.export.vlmkit_format import from_pretrained

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "plugins" / "vlmkit-cabstractor" / "recipes" / "tiny_cabstractor.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, list[str]]:
    tmp = tmp_path_factory.mktemp("cabs")
    overrides = [f"trainer.run_dir={tmp / 'run'}", "trainer.progress_bar=false"]
    assert main(["train", str(RECIPE), *overrides]) == 0
    return tmp, overrides


@pytest.mark.slow  # three tiny training stages
def test_the_plugin_recipe_trains(run):
    import json

    tmp, _ = run
    stages = sorted(p.name for p in (tmp / "run").iterdir() if (p / "done.json").is_file())
    assert stages == ["align", "pretrain", "sft"]
    summaries = [json.loads((tmp / "run" / s / "done.json").read_text()) for s in stages]
    assert any(s["final_loss"] < s["first_loss"] for s in summaries), summaries


@pytest.mark.slow
def test_the_trained_plugin_model_exports_from_recipe_and_composer_checkpoint(run):
    from vlmkit_cabstractor.cabstractor import CAbstractor

    tmp, overrides = run
    final = load_file(str(tmp / "run" / "sft" / "model.safetensors"))
    assert main(["export", str(RECIPE), str(tmp / "out"), *overrides]) == 0
    model = from_pretrained(tmp / "out")
    assert isinstance(model.projector, CAbstractor) and model.num_image_tokens == 4
    assert all(torch.equal(final[k], v) for k, v in model.state_dict().items())

    (composer_checkpoint,) = sorted((tmp / "run" / "sft").glob("ba*.pt"))[-1:]
    assert main(["export", str(composer_checkpoint), str(tmp / "out_pt"), *overrides, "--recipe", str(RECIPE)]) == 0
    from_checkpoint = from_pretrained(tmp / "out_pt")
    assert all(torch.equal(final[k], v) for k, v in from_checkpoint.state_dict().items())


@pytest.mark.slow  # the plugin's own suite, run the way its author runs it (its own pytest config)
def test_the_plugin_passes_its_own_test_suite():
    import subprocess
    import sys

    plugin = ROOT / "plugins" / "vlmkit-cabstractor"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=plugin,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
