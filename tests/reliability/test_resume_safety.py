"""Resuming trusts nothing in the run folder (issue #22): a planted pickle never runs, a damaged
checkpoint is detected by its checksum and skipped for the previous intact one, a run stopped after
its final checkpoint but before ``done.json`` finishes, damaged stage outputs are named in one line,
and SIGINT says where to resume.

Most tests copy one finished run and take away what a kill at the right moment would not have
written (``done.json`` and the final weights), then damage what the test is about."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st
from safetensors.torch import load_file

from tests.train.train_helpers import (
    SCRIPT, copy_stopped_before_done, python, recipe_dict, stage, stop_before_done, subprocess_env, write_recipe,
)
from vlmkit.config import validate_recipe
from vlmkit.storage.layout import DONE, WEIGHTS, StageDir, checksum_path, read_history
from vlmkit.train import checkpoint as ckpt
from vlmkit.train import resume
from vlmkit.train.__main__ import main as train_main
from vlmkit.train.stages import run_recipe
from vlmkit.testing.synthetic import synthetic_factory

DATA = synthetic_factory(num_rows=64)
STAGES = {"s": stage(["projector", "llm"], batches=4)}
TRAINER = {"save_interval": "1ba", "save_num_checkpoints_to_keep": 2}  # keeps ba3.pt and ba4.pt


def recipe_at(run_dir: Path, stages=STAGES):
    return validate_recipe(recipe_dict(run_dir, stages=stages, **TRAINER))


def outcome(run_dir: Path, stages=STAGES):
    weights = {s: load_file(run_dir / s / WEIGHTS) for s in stages}
    return weights, [(r["stage"], r["step"], r["loss"]) for r in read_history(run_dir, stages)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    run_recipe(recipe_at(run_dir), dataloader_factory=DATA)
    return run_dir, outcome(run_dir)


@pytest.fixture
def interrupted(tmp_path, reference):
    """A copy of the reference run as a kill after its final checkpoint (ba4) leaves it."""
    return copy_stopped_before_done(reference[0], tmp_path / "run")


def assert_same(got, expected):
    weights, losses = got
    assert losses == expected[1]
    for name, tensors in expected[0].items():
        assert all(torch.equal(weights[name][k], v) for k, v in tensors.items()), name


def train_cli(run_dir: Path, capsys, stages=STAGES) -> tuple[int, str]:
    path = write_recipe(run_dir.parent / "recipe.yaml", recipe_dict(run_dir, stages=stages, **TRAINER))
    code = train_main([str(path), "--no-preflight"], dataloader_factory=DATA)
    return code, capsys.readouterr().err.strip()


class Payload:
    """Unpickling it creates ``marker`` (what a crafted checkpoint could do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("with_checksum", [True, False])
def test_a_planted_checkpoint_never_runs_its_payload(interrupted, reference, capsys, with_checksum):
    folder, marker = interrupted / "s", interrupted.parent / "pwned"
    state = torch.load(folder / "ba4.pt", weights_only=False)  # our own file
    state["state"]["extra"] = Payload(marker)
    torch.save(state, folder / "ba9.pt")
    if with_checksum:  # whoever planted it wrote a matching checksum too
        ckpt.write_checksum(folder / "ba9.pt", folder / "ba9.pt")
    code, err = train_cli(interrupted, capsys)
    assert not marker.exists()
    if with_checksum:  # refused by the restricted unpickler, in one line naming the file
        assert code == 1 and len(err.splitlines()) == 1
        assert f"{folder / 'ba9.pt'}: refused to load this checkpoint" in err and "Unsupported global" in err
    else:  # no checksum: never opened, set aside; the stage resumes from ba4 and finishes
        assert code == 0 and (folder / "ba9.pt.damaged").is_file()
        assert_same(outcome(interrupted), reference[1])


def test_stopped_after_the_final_checkpoint_before_done_json_finishes(interrupted, reference):
    summary = run_recipe(recipe_at(interrupted), dataloader_factory=DATA)["s"]
    assert summary["batches"] == 4 and summary["resumed_from"].endswith("ba4.pt")
    assert StageDir(interrupted / "s").read_done()["batches"] == 4
    assert_same(outcome(interrupted), reference[1])


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def flip_4kb(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 4096] = bytes(b ^ 0xFF for b in data[middle: middle + 4096])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, empty, garbage, flip_4kb])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(interrupted, reference, caplog, damage):
    folder = interrupted / "s"
    damage(folder / "ba4.pt")
    with caplog.at_level(logging.WARNING, logger="vlmkit.train.resume"):
        summary = run_recipe(recipe_at(interrupted), dataloader_factory=DATA)["s"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "vlmkit.train.resume"]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert f"{folder / 'ba4.pt'} is damaged (its sha256 does not match ba4.pt.sha256" in warnings[0]
    assert "resuming from ba3.pt" in warnings[0]
    assert summary["resumed_from"].endswith("ba3.pt") and (folder / "ba4.pt.damaged").is_file()
    assert_same(outcome(interrupted), reference[1])  # batch 4 trained again, identically


def test_no_intact_checkpoint_is_one_line_naming_each_file(interrupted, capsys):
    folder = interrupted / "s"
    truncate(folder / "ba4.pt")
    checksum_path(folder / "ba3.pt").unlink()
    code, err = train_cli(interrupted, capsys)
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{folder}: no intact checkpoint to resume from" in err
    assert "ba4.pt: its sha256 does not match ba4.pt.sha256" in err and "ba3.pt: no checksum file ba3.pt.sha256" in err
    assert sorted(p for _, p in StageDir(folder).checkpoints()) == [folder / "ba3.pt", folder / "ba4.pt"]  # nothing renamed


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=2048), offset=st.integers(min_value=0), flip=st.integers(1, 255),
       cut=st.integers(min_value=0))
def test_the_checksum_catches_any_flipped_byte_or_truncation(tmp_path_factory, data, offset, flip, cut):
    folder = tmp_path_factory.mktemp("sum")
    path = folder / "ba1.pt"
    path.write_bytes(data)
    ckpt.write_checksum(path, path)
    assert resume.damage(path) is None
    flipped = bytearray(data)
    flipped[offset % len(data)] ^= flip
    path.write_bytes(bytes(flipped))
    assert "does not match" in resume.damage(path)
    path.write_bytes(data[: cut % len(data)])
    assert "does not match" in resume.damage(path)


TWO_STAGES = {"a": stage(["projector"], batches=2), "b": stage(["projector", "llm"], batches=2)}


@pytest.fixture
def first_stage_done(tmp_path):
    run_dir = tmp_path / "run"
    run_recipe(recipe_at(run_dir, TWO_STAGES), stage="a", dataloader_factory=DATA)
    return run_dir


@pytest.mark.parametrize("damage", [truncate, flip_4kb])
def test_damaged_previous_stage_weights_are_named_in_one_line(first_stage_done, capsys, damage):
    weights = first_stage_done / "a" / WEIGHTS
    damage(weights)
    code, err = train_cli(first_stage_done, capsys, TWO_STAGES)
    assert code == 1 and len(err.splitlines()) == 1
    assert f"{weights}: damaged final weights of stage 'a'" in err
    assert not (first_stage_done / "b" / DONE).exists()


def test_unreadable_weights_without_a_recorded_checksum_are_named(first_stage_done, capsys):
    done = first_stage_done / "a" / DONE
    summary = StageDir(done.parent).read_done()
    del summary["weights_sha256"]  # a stage finished before checksums were recorded
    done.write_text(json.dumps(summary))
    truncate(first_stage_done / "a" / WEIGHTS)
    code, err = train_cli(first_stage_done, capsys, TWO_STAGES)
    assert code == 1 and len(err.splitlines()) == 1
    assert f"{first_stage_done / 'a' / WEIGHTS}: not a readable safetensors file" in err


@pytest.mark.parametrize("content", [b"\x00\xffgarbage", b"{\"stage\": ", b"[1, 2]"])
def test_a_damaged_done_json_is_named_in_one_line(first_stage_done, capsys, content):
    done = first_stage_done / "a" / DONE
    done.write_bytes(content)
    code, err = train_cli(first_stage_done, capsys, TWO_STAGES)
    assert code == 1 and len(err.splitlines()) == 1
    assert f"{done}: damaged stage marker" in err and "delete it and train stage 'a' again" in err


@pytest.mark.slow
def test_sigint_says_where_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    stages = {"s": stage(["projector", "llm"], batches=12)}
    path = write_recipe(tmp_path / "recipe.yaml", recipe_dict(run_dir, stages=stages, **TRAINER))
    cmd = [python(), str(SCRIPT), str(path)]
    proc = subprocess.Popen(cmd, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and len(read_history(run_dir, ["s"])) < 2:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1].strip().splitlines()
    assert proc.returncode == 130, err[-20:]
    newest = StageDir(run_dir / "s").newest_checkpoint()
    assert err[-1] == (f"vlmkit train (rank 0): interrupted: SIGINT stopped stage 's'; rerun the same command "
                       f"to resume it from {newest}")
    again = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert [r["step"] for r in read_history(run_dir, ["s"])] == list(range(1, 13))


@pytest.mark.slow
def test_two_processes_fall_back_together_and_start_over_together(tmp_path):
    """Rank 0 checks the checksums and every rank resumes from its choice (bit-identical to the
    uninterrupted two-process run); with autoresume off the ranks clear a finished stage together."""
    path = write_recipe(tmp_path / "recipe.yaml", recipe_dict(tmp_path / "run", stages=STAGES, **TRAINER))
    cmd = [str(Path(python()).with_name("composer")), "-n", "2", str(SCRIPT), str(path)]
    folder = tmp_path / "run" / "s"

    def train(*overrides):
        done = subprocess.run(cmd + list(overrides), env=subprocess_env(), capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        return done.stdout + done.stderr, outcome(tmp_path / "run")

    _, expected = train()
    stop_before_done(folder)
    truncate(folder / "ba4.pt")
    log, got = train()
    assert f"{folder / 'ba4.pt'} is damaged" in log and (folder / "ba4.pt.damaged").is_file()
    assert_same(got, expected)
    log, got = train("trainer.autoresume=false")
    assert "trainer.autoresume is off: stage 's' starts over" in log
    assert_same(got, expected)
