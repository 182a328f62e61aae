"""One run layout: which stages have finished, the last finished stage, the weights a loader
takes, and old spellings that keep working with a warning naming the new one."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from vlmkit.storage import atomic, layout
from vlmkit.storage.layout import RunLayout, StageDir

STAGES = ("align", "pretrain", "sft")
# what a stage folder may hold: final weights, done.json, a checkpoint ba{N}.pt, a sharded ba{N}/
STATES = st.fixed_dictionaries({"weights": st.booleans(), "done": st.booleans(), "checkpoint": st.sampled_from([None, "ba3.pt", "ba3"])})


def make(run_dir: Path, states: dict[str, dict]) -> RunLayout:
    for name, state in states.items():
        stage = StageDir(run_dir / name)
        stage.folder.mkdir(parents=True, exist_ok=True)
        atomic.remove_temporaries(stage.folder)
        for path in (stage.weights, stage.done, stage.folder / "ba3.pt", stage.folder / "ba3"):
            atomic.remove(path)
        if state["weights"]:
            stage.weights.write_bytes(b"w")
        if state["done"]:
            stage.mark_done({"stage": name})
        if state["checkpoint"] == "ba3":
            (stage.folder / "ba3").mkdir()
        elif state["checkpoint"]:
            (stage.folder / state["checkpoint"]).write_bytes(b"c")
    return RunLayout(run_dir, STAGES)


@given(states=st.fixed_dictionaries({name: STATES for name in STAGES}))
@settings(max_examples=60, deadline=None)
def test_the_last_finished_stage_is_the_last_with_done_json(tmp_path_factory, states):
    run = make(tmp_path_factory.mktemp("run"), states)
    finished = [name for name in STAGES if states[name]["done"]]
    assert run.finished_stages() == finished
    assert run.last_finished() == (finished[-1] if finished else None)
    last = run.last_finished()
    with_checkpoint = [name for name in STAGES if states[name]["checkpoint"]]
    if last is not None and states[last]["weights"]:
        expected = run.stage(last).weights
    elif with_checkpoint:
        expected = run.stage(with_checkpoint[-1]).folder / states[with_checkpoint[-1]]["checkpoint"]
    else:
        expected = None
    assert run.newest_weights() == expected


def test_checkpoints_of_both_formats_sort_by_batch(tmp_path):
    stage = StageDir(tmp_path)
    for name in ("ba10.pt", "ba9", "ba2.pt", "ba2.pt.sha256", "ba3.pt.damaged", ".tmp-1-ba11.pt", "latest.pt"):
        (tmp_path / name).mkdir() if name == "ba9" else (tmp_path / name).write_bytes(b"")
    assert [(b, p.name) for b, p in stage.checkpoints()] == [(2, "ba2.pt"), (9, "ba9"), (10, "ba10.pt")]
    assert stage.checkpoint(4) == tmp_path / "ba4.pt" and stage.checkpoint(4, sharded=True) == tmp_path / "ba4"
    stage.clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ba3.pt.damaged"]


def test_weights_checked_against_done_json(tmp_path):
    stage = StageDir(tmp_path)
    stage.weights.write_bytes(b"weights")
    stage.mark_done({"batches": 1})
    assert stage.checked_weights() == stage.weights
    stage.weights.write_bytes(b"changed")
    with pytest.raises(ValueError, match=r"model.safetensors: damaged final weights of stage .*differs from .*done.json"):
        stage.checked_weights()


def test_a_stage_is_checked_against_the_recipe(tmp_path):
    run = RunLayout(tmp_path, STAGES)
    assert run.check_stage("sft", "r") == "sft" and run.previous("sft") == "pretrain" and run.previous("align") is None
    with pytest.raises(ValueError, match="--stage 'sf' is not a stage of recipe 'r'; stages: align, pretrain, sft"):
        run.check_stage("sf", "r")


OLD_SPELLINGS = [  # (module, old name, new spelling named in the warning)
    ("vlmkit.train.checkpoint", "WEIGHTS", "vlmkit.storage.layout.WEIGHTS"),
    ("vlmkit.train.checkpoint", "write_atomic", "vlmkit.storage.atomic.write_atomic"),
    ("vlmkit.train.checkpoint", "read_done", "vlmkit.storage.layout.StageDir(folder).read_done()"),
    ("vlmkit.train.history", "read_history", "vlmkit.storage.layout.read_history"),
    ("vlmkit.train.sharded", "read_metadata", "vlmkit.storage.composer.read_metadata"),
    ("vlmkit.export.source", "composer_safe_globals", "vlmkit.storage.composer.composer_safe_globals"),
    ("vlmkit.export.weights", "save_weights", "vlmkit.storage.weights.save_weights"),
    ("vlmkit.export.weights", "build_and_load", "vlmkit.model.saved.build_and_load"),
    ("vlmkit.model.assets", "cache_dir", "vlmkit.storage.cache.cache_root"),
    ("vlmkit.model.assets", "build_once", "vlmkit.storage.cache.build_once"),
]


@pytest.mark.parametrize(("module", "name", "new"), OLD_SPELLINGS)
def test_old_spellings_work_and_name_the_new_one(module, name, new):
    import importlib

    with pytest.warns(DeprecationWarning, match=f"{module}.{name} is deprecated; use {new.replace('(', '[(]').replace(')', '[)]')}"):
        value = getattr(importlib.import_module(module), name)
    assert value is not None


def test_old_folder_functions_do_what_they_did(tmp_path):
    from vlmkit.train import checkpoint as ckpt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ckpt.write_atomic(tmp_path / layout.WEIGHTS, lambda tmp: tmp.write_bytes(b"w"))
        ckpt.mark_done(tmp_path, {"batches": 2})
        (tmp_path / "ba2.pt").write_bytes(b"c")
        assert ckpt.read_done(tmp_path) == {"batches": 2, "weights_sha256": atomic.sha256_file(tmp_path / layout.WEIGHTS)}
        assert ckpt.checkpoints(tmp_path) == [(2, tmp_path / "ba2.pt")] and ckpt.latest_checkpoint(tmp_path) == tmp_path / "ba2.pt"
        ckpt.clear_stage(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [layout.WEIGHTS]


def test_no_module_outside_storage_spells_the_layout():
    """The file names of a run are written once: in vlmkit.storage.layout."""
    root = Path(__file__).resolve().parents[2] / "vlmkit"
    spelled = [str(p.relative_to(root)) for p in root.rglob("*.py") if "storage" not in p.parts
               for name in ('"done.json"', '"history.jsonl"', '"latest.pt"') if name in p.read_text()]
    assert spelled == []
