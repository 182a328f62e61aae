"""``vlmkit export`` from what training leaves behind (recipe + run_dir, stage folders, Composer
``.pt`` checkpoints), read without unpickling anything but plain data."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from vlmkit.cli import main
from vlmkit.config import load_recipe
from vlmkit.export.vlmkit_format import from_pretrained
from vlmkit.model.vlm import build_vlm
from vlmkit.storage.layout import StageDir
from vlmkit.storage.weights import save_state_dict
from vlmkit.train.checkpoint import full_state_dict

STAGE = {"trainable": ["projector"], "mixture": {"d": 1.0}, "optimizer": {"lr": 1e-3}, "global_batch_size": 2, "duration": "2ba"}


def write_recipe(tmp: Path) -> Path:
    recipe = {
        "name": "exp",
        "model": {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}},
        "datasets": {"d": {"kind": "pairs", "local": str(tmp / "data")}},
        "stages": {"align": STAGE, "sft": STAGE},
        "trainer": {"run_dir": str(tmp / "run")},
    }
    path = tmp / "exp.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def trained(recipe_path: Path, stage: str, seed: int):
    """A model with distinct weights saved where ``vlmkit train`` saves a finished stage's."""
    recipe = load_recipe(recipe_path)
    model = build_vlm(recipe.model)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    folder = StageDir(Path(recipe.trainer.run_dir) / stage)
    folder.folder.mkdir(parents=True, exist_ok=True)
    save_state_dict(full_state_dict(model), folder.weights)
    folder.mark_done({"stage": stage})
    return model.eval()


def same_weights(a, b) -> bool:
    sb = b.state_dict()
    return all(torch.equal(v, sb[k]) for k, v in a.state_dict().items())


def test_export_a_recipe_takes_its_last_finished_stage(tmp_path):
    recipe = write_recipe(tmp_path)
    align = trained(recipe, "align", seed=1)
    sft = trained(recipe, "sft", seed=2)
    assert main(["export", str(recipe), str(tmp_path / "out")]) == 0
    assert same_weights(sft, from_pretrained(tmp_path / "out"))
    assert main(["export", str(recipe), str(tmp_path / "out_align"), "--stage", "align"]) == 0
    assert same_weights(align, from_pretrained(tmp_path / "out_align"))


def test_a_stage_folder_needs_its_recipe(tmp_path, capsys):
    recipe = write_recipe(tmp_path)
    model = trained(recipe, "align", seed=3)
    assert main(["export", str(tmp_path / "run" / "align"), str(tmp_path / "out")]) == 1
    assert "add --recipe RECIPE.yaml" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "run" / "align"), str(tmp_path / "out"), "--recipe", str(recipe)]) == 0
    assert same_weights(model, from_pretrained(tmp_path / "out"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stage", "sft"], "stage 'sft' has no weights"),
        (["--stage", "pretrain"], "not a stage of recipe 'exp'"),
        (["--format", "llava-hf"], "vision encoder is TinyViT"),
    ],
)
def test_user_errors_are_one_line(tmp_path, capsys, args, message):
    recipe = write_recipe(tmp_path)
    trained(recipe, "align", seed=4)
    assert main(["export", str(recipe), str(tmp_path / "out"), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def composer_like(model) -> dict:
    """What a Composer checkpoint holds: the wrapped model's state plus plain-data bookkeeping."""
    return {
        "state": {"model": {f"model.{k}": v for k, v in model.state_dict().items()}, "timestamp": datetime.timedelta(seconds=3)},
        "rng": [{"numpy": np.random.get_state(), "torch": torch.get_rng_state()}],
    }


def test_composer_checkpoints_are_read_with_weights_only(tmp_path):
    recipe = write_recipe(tmp_path)
    model = trained(recipe, "align", seed=5)
    torch.save(composer_like(model), tmp_path / "run" / "align" / "ba2.pt")
    (tmp_path / "run" / "align" / "model.safetensors").unlink()  # stage interrupted: only the .pt
    assert main(["export", str(recipe), str(tmp_path / "out")]) == 0
    assert same_weights(model, from_pretrained(tmp_path / "out"))


class Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_malicious_checkpoint_is_refused_without_running_it(tmp_path, capsys):
    recipe = write_recipe(tmp_path)
    model = trained(recipe, "align", seed=6)
    payload = composer_like(model)
    bomb = Exploit()
    bomb.marker = str(tmp_path / "pwned")
    payload["state"]["extra"] = bomb
    torch.save(payload, tmp_path / "ba9.pt")
    assert main(["export", str(tmp_path / "ba9.pt"), str(tmp_path / "out"), "--recipe", str(recipe)]) == 1
    err = capsys.readouterr().err
    assert "not a readable Composer checkpoint" in err and "Unsupported global" in err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()
