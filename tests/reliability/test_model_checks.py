"""Recipe values that only the built model can judge are refused before training, one line each
naming the key (issue #21 item 4, issue #22 item 6): ``vlmkit check`` and ``vlmkit train`` build
the parts on the meta device, call each factory with its options and run the declared shapes
through them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vlmkit import registry as reg
from vlmkit.cli import main
from vlmkit.model.projectors.base import Projector
from vlmkit.model.projectors.mlp import MLPProjector

TINY = str(Path(__file__).resolve().parents[2] / "recipes" / "tiny.yaml")


class HalvingProjector(Projector):
    """Declares one output token per input token but merges pairs: half as many come out."""

    def __init__(self, in_dim, out_dim, num_input_tokens, grid=None):
        super().__init__(in_dim, out_dim, num_input_tokens, grid)
        self.proj = torch.nn.Linear(in_dim, out_dim)

    def output_tokens(self, num_tokens, grid):
        return num_tokens

    def forward(self, features):
        return self.proj(features.unflatten(1, (-1, 2)).mean(2))


def kwargs_mlp(**options):
    """A factory that takes ``**options``, so only building it shows a misspelled option."""
    return MLPProjector(**options)


class AcmePlugin:
    @staticmethod
    @reg.hookimpl
    def vlmkit_register(registry):
        registry.projectors.register("acme_halving", HalvingProjector)
        registry.projectors.register("acme_kwargs_mlp", kwargs_mlp)


@pytest.fixture(scope="module")
def acme():
    reg.reset(extra=[AcmePlugin])
    yield
    reg.reset()


def check(capsys, *overrides: str) -> list[str]:
    """``vlmkit check recipes/tiny.yaml OVERRIDES``: the stderr lines of a refused recipe."""
    code = main(["check", "--no-data", TINY, *overrides])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert all(line.startswith(("vlmkit check: error: ", TINY)) for line in lines), err
    return lines


CASES = [
    (["model.projector={name: acme_halving}"],
     "model.projector: projector 'acme_halving' (from AcmePlugin) declares output [1, 16, 64] for input [1, 16, 32] but gives [1, 8, 64]"),
    (["model.projector={name: acme_kwargs_mlp, depht: 2}"],
     "model.projector: projector 'acme_kwargs_mlp' (from AcmePlugin) cannot be built with these options: TypeError:"),
    (["model.llm.hidden_size=-64"],
     "model.llm: llm 'tiny_llama' (from vlmkit) cannot be built with these options: ValueError: tiny_llama: hidden_size must be at least 1, got -64"),
    (["model.llm.num_heads=3"],
     "model.llm: llm 'tiny_llama' (from vlmkit) cannot be built with these options: ValueError: tiny_llama: num_heads (3) must divide hidden_size (64)"),
    (["model.vision_encoder.heads=3"],
     "model.vision_encoder: vision encoder 'tiny_vit' (from vlmkit) cannot be built with these options:"),
    (["stages.pretrain.llm_trainable_layers=99"],
     "stages.pretrain.llm_trainable_layers: 99, but llm 'tiny_llama' has 2 layers; use 1..2"),
    (["data.max_seq_len=16"],
     "data.max_seq_len: 16 tokens cannot hold one image (16 image tokens) and its text, so every record of stages 'align', 'pretrain', 'sft' would be skipped; use at least 24"),
    (["stages.sft.max_seq_len=20"],
     "stages.sft.max_seq_len: 20 tokens cannot hold one image (16 image tokens) and its text"),
]


@pytest.mark.parametrize(("overrides", "expected"), CASES, ids=[" ".join(o) for o, _ in CASES])
def test_refused_in_one_line_naming_the_key(acme, capsys, overrides, expected):
    lines = check(capsys, *overrides)
    assert len(lines) == 1 and expected in lines[0], lines


def test_plan_refuses_a_projector_that_lies_about_its_tokens(acme, capsys):
    code = main(["plan", TINY, "model.projector={name: acme_halving}"])
    err = capsys.readouterr().err
    assert code == 1 and "declares output [1, 16, 64] for input [1, 16, 32] but gives [1, 8, 64]" in err and "Traceback" not in err


def test_the_model_checks_pass_a_good_recipe(acme, capsys):
    assert main(["check", "--no-data", TINY, "model.projector={name: acme_kwargs_mlp, depth: 1}"]) == 0, capsys.readouterr().err


def test_train_refuses_before_any_stage_starts(acme, capsys, tmp_path):
    runs = tmp_path / "runs"
    code = main(["train", TINY, "stages.pretrain.llm_trainable_layers=99", f"trainer.run_dir={runs}"])
    err = capsys.readouterr().err
    assert code == 1 and "stages.pretrain.llm_trainable_layers: 99" in err and "Traceback" not in err
    assert not runs.exists(), "a refused recipe must not leave a stage folder behind"
