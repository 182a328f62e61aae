"""Broken recipes fail before anything is built, with one line per problem naming the key and the fix,
and no traceback (issue: bad configuration)."""

import socket
import textwrap

import pytest

from vlmkit.cli import main

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
    (["stages.align.optimizer.name=adam"], "stages.align.optimizer.name: Input should be 'decoupled_adamw', 'adamw' or 'decoupled_sgdw'"),
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
    (["datasets.pairs.kind=images"], "datasets.pairs.kind: Input should be 'pairs', 'interleaved', 'conversations' or 'text'"),
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


@pytest.mark.parametrize("overrides, expected", BROKEN, ids=[" ".join(o) for o, _ in BROKEN])
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
