"""Broken recipes fail before anything is built, with one line per problem naming the key and the fix,
and no traceback (issue: bad configuration)."""

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vlmkit.cli import main

TINY = Path(__file__).resolve().parents[2] / "recipes" / "tiny.yaml"
GOOD = """
name: good
model:
  vision_encoder: {{name: tiny_vit}}
  projector: {{name: mlp}}
  llm: {{name: tiny_llama}}
datasets:
  pairs: {{kind: pairs, local: {data}}}
  chat: {{kind: conversations, local: {data}}}
  text: {{kind: text, local: {data}}}
stages:
  align:
    trainable: [projector]
    mixture: {{pairs: 1.0}}
    optimizer: {{lr: 1.0e-3}}
    global_batch_size: 4
    duration: 2ba
  sft:
    trainable: [projector, llm]
    mixture: "chat+text"
    optimizer: {{lr: 2.0e-5}}
    global_batch_size: 4
    duration: 2ba
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# (overrides, text that must appear in the one-line message)
BROKEN = [
    (["model.vision_encoder.name=tiny_vt"], "model.vision_encoder.name: unknown vision encoder 'tiny_vt'; did you mean 'tiny_vit'?"),
    (["model.projector.name=mlpp"], "model.projector.name: unknown projector 'mlpp'; did you mean 'mlp'?"),
    (["model.llm.name=llama9"], "model.llm.name: unknown llm 'llama9'"),
    (["model.projector.depht=2"], "model.projector.depht: projector 'mlp' has no option 'depht'; did you mean 'depth'?"),
    (["model.chat_template=vicunaa"], "model.chat_template: unknown chat template 'vicunaa'"),
    (["stages.align.global_batch_size=big"], "stages.align.global_batch_size: Input should be a valid integer"),
    (["stages.align.global_batch_size=-4"], "stages.align.global_batch_size: Input should be greater than 0"),
    (["stages.align.optimizer.lr=0"], "stages.align.optimizer.lr: Input should be greater than 0"),
    (["stages.align.optimizer.lr=-1e-3"], "stages.align.optimizer.lr: Input should be greater than 0"),
    (["stages.align.optimizer.name=adam"], "stages.align.optimizer.name: unknown optimizer 'adam'; did you mean 'adamw'? Registered: adamw, decoupled_adamw, decoupled_sgdw"),
    (["stages.align.duration=forever"], "stages.align.duration: 'forever' is not a duration"),
    (["stages.align.scheduler.warmup=3%"], "stages.align.scheduler.warmup: '3%' is not a duration"),
    (["stages.align.trainable=[]"], "stages.align.trainable: a stage must train at least one part"),
    (["stages.align.trainable=[vision_tower]"], "stages.align.trainable.0: Input should be 'vision_encoder', 'projector' or 'llm'"),
    (["stages.align.mixture={pairs: 0.7}"], "stages.align.mixture: proportions sum to 0.7, not 1"),
    (["stages.align.mixture={pairs: 1.5, chat: -0.5}"], "stages.align.mixture: weights must be positive"),
    (["stages.align.mixture={laion: 1.0}"], "stages.align.mixture: dataset 'laion' is not defined under 'datasets'"),
    (["stages.align.mixture=pairs+*2"], "bad mixture term"),
    (["stages.align.mixer=blend"], "stages.align.mixer: unknown mixer 'blend'"),
    (["stages.align.optimizer.lr_multipliers={vision: 0.1}"], "stages.align.optimizer.lr_multipliers.vision"),
    (["stages.align.lora={tower: {r: 8}}"], "stages.align.lora.tower"),
    (["stages.align.microbatch_size=64"], "stages.align.microbatch_size: 64 exceeds global_batch_size 4"),
    (["stages.align.max_seq_len=0"], "stages.align.max_seq_len: Input should be greater than 0"),
    (["stages.sft.trainable=[projector]", "stages.sft.mixture={text: 1.0}"], "stages.sft.mixture: every dataset is text-only, so the trainable projector would get no gradient"),
    (["datasets.pairs.kind=images"], "datasets.pairs.kind: unknown sample kind 'images'. Registered: conversations, interleaved, pairs, text"),
    (["datasets.pairs.kind=pair"], "datasets.pairs.kind: unknown sample kind 'pair'; did you mean 'pairs'?"),
    (["datasets.pairs={kind: pairs}"], "datasets.pairs: give either 'name' (a registered dataset) or 'kind' with 'remote' or 'local'"),
    (["datasets.pairs.local=/nonexistent/shards"], "datasets.pairs.local: '/nonexistent/shards' does not exist"),
    (["datasets.pairs.remote=ftp://host/shards"], "datasets.pairs.remote: Streaming cannot read ftp:// URIs"),
    (["datasets.pairs.remote=s3://bucket/shards"], "datasets.pairs.remote: cannot read s3://bucket/shards/index.json"),
    (["datasets.pairs.name=no_such_dataset"], "datasets.pairs.name: unknown dataset 'no_such_dataset'"),
    (["data.max_images_per_sample=-1"], "data.max_images_per_sample: Input should be greater than or equal to 0"),
    (["trainer.precision=amp_bf16", "trainer.device=cpu"], "trainer.precision: amp_bf16 needs a GPU"),
    (["trainer.precison=fp32"], "trainer.precison: unknown key; did you mean 'precision'?"),
    (["trainr.seed=1"], "trainr: unknown key; did you mean 'trainer'?"),
    (["eval.tasks=[{name: vqa_nope}]"], "eval.tasks.0.name: unknown task 'vqa_nope'"),
    (["stages={}"], "stages: Value error, a recipe needs at least one stage"),
]

# Values that used to train wrongly (or crash late) with exit 0 (issue #22 item 6): each is now
# refused by the schema, so `check` and `train` both stop before anything is built.
BAD_VALUES = [
    (["stages.align.optimizer.lr=.inf"], "stages.align.optimizer.lr: Input should be a finite number"),
    (["stages.align.optimizer.lr=true"], "stages.align.optimizer.lr: expected a number, not true/false"),
    (["stages.align.optimizer.weight_decay=.inf"], "stages.align.optimizer.weight_decay: Input should be a finite number"),
    (["stages.align.optimizer.eps=.inf"], "stages.align.optimizer.eps: Input should be a finite number"),
    (["stages.align.max_grad_norm=.inf"], "stages.align.max_grad_norm: Input should be a finite number"),
    (["stages.align.optimizer.lr_multipliers={projector: -1}"], "stages.align.optimizer.lr_multipliers.projector: Input should be greater than 0"),
    (["stages.align.optimizer.lr_multipliers={projector: 0}"], "stages.align.optimizer.lr_multipliers.projector: Input should be greater than 0"),
    (["stages.align.optimizer.betas=[0.9, 1.0]"], "stages.align.optimizer.betas.1: Input should be less than 1"),
    (["stages.align.optimizer.betas=[-0.1, 0.999]"], "stages.align.optimizer.betas.0: Input should be greater than or equal to 0"),
    (["stages.align.microbatch_size=-2"], "stages.align.microbatch_size: expected a whole number > 0, 'auto' or null (got -2)"),
    (["stages.align.microbatch_size=0"], "stages.align.microbatch_size: expected a whole number > 0, 'auto' or null (got 0)"),
    (["stages.align.microbatch_size=2.0"], "stages.align.microbatch_size: expected a whole number > 0, 'auto' or null"),
    (["stages.align.global_batch_size=true"], "stages.align.global_batch_size: Input should be a valid integer (got True)"),
    (["stages.align.global_batch_size=4.0"], "stages.align.global_batch_size: Input should be a valid integer (got 4.0)"),
    (["stages.align.duration=0ba"], "stages.align.duration: '0ba' is zero"),
    (["stages.align.duration=1.5ba"], "stages.align.duration: '1.5ba': ba counts whole units"),
    (["trainer.save_interval=0ba"], "trainer.save_interval: '0ba' is zero"),
    (["trainer.log_interval=0ep"], "trainer.log_interval: '0ep' is zero"),
    (["trainer.seed=-1"], "trainer.seed: Input should be greater than or equal to 0"),
    (["trainer.seed=4294967296"], "trainer.seed: Input should be less than 4294967296"),
    (["trainer.seed=true"], "trainer.seed: Input should be a valid integer"),
    (["data.shuffle_seed=-5"], "data.shuffle_seed: Input should be greater than or equal to 0"),
    (["data.max_seq_len=true"], "data.max_seq_len: Input should be a valid integer"),
    (["datasets.pairs.weight=.inf"], "datasets.pairs.weight: Input should be a finite number"),
    (["eval.batch_size=true"], "eval.batch_size: Input should be a valid integer"),
]


@pytest.fixture
def recipe(tmp_path):
    data = tmp_path / "shards"
    data.mkdir()
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(GOOD.format(data=data)))
    return path


def run_check(capsys, *argv):
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_good_recipe_passes(recipe, capsys):
    code, out, err = run_check(capsys, str(recipe))
    assert code == 0, err
    assert "ok" in out


def test_there_are_at_least_30_broken_recipes():
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("overrides, expected", BROKEN + BAD_VALUES, ids=[" ".join(o) for o, _ in BROKEN + BAD_VALUES])
def test_broken_recipe_fails_with_one_line_naming_the_key(recipe, capsys, monkeypatch, overrides, expected):
    monkeypatch.setenv("S3_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.delenv("VLMKIT_DEBUG", raising=False)
    code, out, err = run_check(capsys, str(recipe), *overrides)
    assert code == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert any(expected.replace("Value error, ", "") in line for line in lines), err
    assert all(line.startswith("vlmkit check: error: ") or line.startswith(str(recipe)) for line in lines), err


@pytest.mark.parametrize(
    "text, expected",
    [
        ("base: missing.yaml\n", "does not exist"),
        ("name: [unclosed\n", "invalid YAML"),
        ("datasets: {a: {kind: text, local: '${UNSET_VLMKIT_VAR}'}}\n", "${UNSET_VLMKIT_VAR} is not set"),
        ("- a list\n", "a recipe must be a mapping"),
    ],
)
def test_broken_files_fail_with_one_line(tmp_path, capsys, text, expected):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    code, _, err = run_check(capsys, str(path))
    assert code == 1 and expected in err and "Traceback" not in err


@pytest.mark.parametrize("overrides, expected", BAD_VALUES, ids=[" ".join(o) for o, _ in BAD_VALUES])
def test_train_refuses_each_bad_value_like_check(recipe, capsys, overrides, expected):
    code = main(["train", str(recipe), *overrides])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.startswith(f"vlmkit train: error: {recipe}: ") and len(err.strip().splitlines()) == 1, err
    assert expected in err, err


def test_train_validates_the_recipe_before_loading_composer(recipe):
    """A bad value is reported by `vlmkit train` without importing Composer or torch (seconds faster)."""
    code = f"""
import contextlib, io, json, sys
from vlmkit.cli import main
err = io.StringIO()
with contextlib.redirect_stderr(err):
    codes = [main(["train", {str(recipe)!r}, o]) for o in {[o[0] for o, _ in BAD_VALUES]!r}]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("composer", "torch", "streaming", "transformers"))
print(json.dumps({{"codes": codes, "heavy": heavy, "err": err.getvalue()}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["codes"] == [1] * len(BAD_VALUES)
    assert out["heavy"] == [], "vlmkit train imported these before it refused the recipe"
    assert len(out["err"].strip().splitlines()) == len(BAD_VALUES)


def alias_bomb(levels: int, width: int = 9) -> str:
    lines = [f"x0: &x0 [{', '.join(['lol'] * width)}]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name: a\nname: b\n", "invalid YAML at line 2, column 1: duplicate key 'name' (first given at line 1)"),
        ("stages:\n  a: {duration: 1ba, duration: 2ba}\n", "duplicate key 'duration' (first given at line 2)"),
        ("a: " + "[" * 3000 + "]" * 3000 + "\n", "values are nested more than 64 levels deep"),
        ("a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n", "values are nested more than 64 levels deep"),
        (alias_bomb(8), "aliases expand to more than 100,000 values (an alias bomb?)"),
        ("a: &a [*a]\n", "nested more than 64 levels deep once aliases are expanded"),
        ("model: {projector: {depth: !unset 3}}\n", "!unset takes no value"),
        ("model: {projector: !replace [1]}\n", "!replace goes on a mapping"),
    ],
    ids=["duplicate-top", "duplicate-nested", "deep-lists", "deep-maps", "alias-bomb", "self-alias", "unset-value", "replace-list"],
)
def test_hostile_yaml_fails_fast_with_one_line(tmp_path, capsys, text, expected):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    code, _, err = run_check(capsys, str(path))
    assert code == 1 and "Traceback" not in err, err
    assert expected in err and len(err.strip().splitlines()) == 1, err


def test_recipe_path_that_is_a_folder_or_binary_fails_with_one_line(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text("name: x\n")
    code, _, err = run_check(capsys, str(tmp_path))
    assert code == 1 and "Traceback" not in err
    assert f"recipe '{tmp_path}' is a folder, not a YAML file; give a recipe file (it holds tiny.yaml)" in err
    binary = tmp_path / "weights.yaml"
    binary.write_bytes(bytes(range(128, 256)))
    code, _, err = run_check(capsys, str(binary))
    assert code == 1 and "not a text file" in err and "Traceback" not in err


def test_changing_an_inherited_component_name_starts_its_options_afresh(tmp_path, capsys):
    """Issue #21 item 2: a recipe on top of tiny.yaml that swaps the mlp projector must not keep mlp's depth."""
    child = tmp_path / "linear.yaml"
    child.write_text(f"base: {TINY}\nmodel:\n  projector: {{name: linear}}\n")
    code, out, err = run_check(capsys, "--no-data", str(child))
    assert code == 0, err
    code, out, err = run_check(capsys, "--no-data", str(TINY), "model.projector.name=linear")
    assert code == 0, err


def test_a_bad_inherited_option_names_the_file_it_came_from(tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text(f"base: {TINY}\nmodel:\n  projector: {{deph: 2}}\n")
    child = tmp_path / "child.yaml"
    child.write_text("base: base.yaml\nname: child\n")
    code, _, err = run_check(capsys, "--no-data", str(child))
    assert code == 1
    assert err.strip() == (f"vlmkit check: error: {child}: model.projector.deph (from base.yaml): projector 'mlp' has no option "
                           "'deph'; did you mean 'depth'? Options: depth, input_norm"), err
