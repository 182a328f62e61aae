"""Sharded checkpoints (``trainer.checkpoint_format: sharded`` under FSDP2, issue #16): each rank
writes its own shards into a folder ``ba{N}/`` published whole with a manifest of sha256s; resuming
from one is bit-exact, a damaged one falls back, a planted ``.metadata`` index never runs, and the
stage's final weights are still one ``model.safetensors``.

The fast tests run FSDP2 in this process (world size 1); the slow one runs ``composer -n 2`` on gloo."""

from __future__ import annotations

import io
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from safetensors.torch import load_file

from vlmkit.config import validate_recipe
from vlmkit.storage import composer
from vlmkit.storage.layout import LATEST, WEIGHTS, StageDir, read_history
from vlmkit.train import resume, sharded
from vlmkit.train.stages import run_recipe
from vlmkit.testing.synthetic import synthetic_factory
from train_helpers import (
    SCRIPT, copy_stopped_before_done, python, recipe_dict, stage, stop_before_done, subprocess_env, write_recipe,
)

DATA = synthetic_factory(num_rows=64)
STAGES = {"s": stage(["projector", "llm"], batches=4)}
SHARDED = {"parallelism": "fsdp2", "checkpoint_format": "sharded", "save_interval": "2ba", "save_num_checkpoints_to_keep": -1}


def recipe_at(run_dir: Path, **trainer):
    return validate_recipe(recipe_dict(run_dir, stages=STAGES, **{**SHARDED, **trainer}))


def outcome(run_dir: Path):
    return load_file(run_dir / "s" / WEIGHTS), [(r["step"], r["loss"]) for r in read_history(run_dir, ["s"])]


def assert_same(got, expected):
    assert got[1] == expected[1]
    assert got[0].keys() == expected[0].keys()
    assert all(torch.equal(got[0][k], v) for k, v in expected[0].items())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("sharded") / "run"
    run_recipe(recipe_at(run_dir), dataloader_factory=DATA)
    return run_dir, outcome(run_dir)


@pytest.fixture
def interrupted(tmp_path, reference):
    """The reference run as a kill right after its checkpoint at batch 2 leaves it."""
    run_dir = copy_stopped_before_done(reference[0], tmp_path / "run")
    shutil.rmtree(run_dir / "s" / "ba4")
    return run_dir


def test_each_checkpoint_is_a_folder_of_shards_with_a_manifest(reference):
    folder = reference[0] / "s"
    assert [p.name for _, p in StageDir(folder).checkpoints()] == ["ba2", "ba4"]
    assert sorted(p.name for p in (folder / "ba4").iterdir()) == [".metadata", "__0_0.distcp", sharded.MANIFEST]
    assert not list(folder.glob("ba*.pt")) and (folder / LATEST).resolve() == (folder / "ba4").resolve()
    assert sharded.damage(folder / "ba4") is None
    assert StageDir(folder).read_done()["batches"] == 4


def test_final_weights_are_one_safetensors_equal_to_a_full_format_run(tmp_path, reference):
    run_recipe(recipe_at(tmp_path / "full", checkpoint_format="full"), dataloader_factory=DATA)
    assert list((tmp_path / "full" / "s").glob("ba*.pt"))
    assert_same(outcome(tmp_path / "full"), reference[1])


def test_resuming_from_a_sharded_checkpoint_is_bit_exact(interrupted, reference):
    summary = run_recipe(recipe_at(interrupted), dataloader_factory=DATA)["s"]
    assert summary["resumed_from"] == str(interrupted / "s" / "ba2")
    assert_same(outcome(interrupted), reference[1])


def test_a_damaged_newest_shard_falls_back_to_the_previous_checkpoint(tmp_path, reference):
    run_dir = copy_stopped_before_done(reference[0], tmp_path / "run")
    folder = run_dir / "s"
    shard = folder / "ba4" / "__0_0.distcp"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    summary = run_recipe(recipe_at(run_dir), dataloader_factory=DATA)["s"]
    assert summary["resumed_from"] == str(folder / "ba2") and (folder / "ba4.damaged").is_dir()
    assert_same(outcome(run_dir), reference[1])


class Payload:
    """Unpickling it creates ``marker`` (what a crafted index could do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_planted_metadata_index_never_runs(interrupted, tmp_path):
    """DCP itself would run it (plain ``pickle.load``); vlmkit refuses it in one line, even with a
    matching manifest."""
    from torch.distributed.checkpoint import FileSystemReader

    folder, marker = interrupted / "s" / "ba2", tmp_path / "pwned"
    (folder / composer.METADATA).write_bytes(pickle.dumps(Payload(marker)))
    sharded.write_manifest(folder)  # whoever planted it rewrote the manifest too
    with pytest.raises(ValueError, match=r"ba2: refused to load this checkpoint \(global pathlib\.\w*Path\.touch is not allowed") as err:
        run_recipe(recipe_at(interrupted), dataloader_factory=DATA)
    assert not marker.exists() and "\n" not in str(err.value)
    with pytest.raises(AttributeError):  # what the check prevents: DCP runs the payload, then fails
        FileSystemReader(str(folder)).read_metadata()
    assert marker.exists()


@given(module=st.sampled_from(["os", "builtins", "subprocess", "torch._utils", "torch", "pathlib"]),
       name=st.sampled_from(["system", "eval", "exec", "Popen", "_rebuild_tensor_v2", "load", "touch", "getattr"]))
@settings(max_examples=30, deadline=None)
def test_the_index_unpickler_refuses_every_other_global(module, name):
    data = b"c" + f"{module}\n{name}\n".encode() + b")R."  # GLOBAL module.name, call it with ()
    with pytest.raises(pickle.UnpicklingError, match=f"global {module}.{name} is not allowed"):
        composer.MetadataUnpickler(io.BytesIO(data)).load()


def test_the_index_unpickler_reads_a_real_index(reference):
    from torch.distributed.checkpoint.metadata import Metadata

    index = composer.read_metadata(reference[0] / "s" / "ba4")
    assert isinstance(index, Metadata) and any(k.startswith("state.model.") for k in index.state_dict_metadata)


@pytest.fixture(scope="module")
def pristine(reference, tmp_path_factory):
    return reference[0] / "s" / "ba4", tmp_path_factory.mktemp("mutations")


@given(kind=st.sampled_from(["flip", "delete", "add", "truncate_manifest"]), pick=st.integers(0, 1), at=st.floats(0, 1))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_change_to_a_sharded_checkpoint_is_detected(pristine, kind, pick, at):
    source, scratch = pristine
    folder = scratch / "ba4"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder)
    target = folder / sorted([".metadata", "__0_0.distcp"])[pick]
    if kind == "flip":
        data = bytearray(target.read_bytes())
        data[min(int(at * len(data)), len(data) - 1)] ^= 0x01
        target.write_bytes(bytes(data))
    elif kind == "delete":
        target.unlink()
    elif kind == "add":
        (folder / "__1_0.distcp").write_bytes(b"x")
    else:
        manifest = folder / sharded.MANIFEST
        manifest.write_bytes(manifest.read_bytes()[: int(at * (manifest.stat().st_size - 2))])  # beyond its last "\n"
    assert resume.damage(folder) is not None


def test_a_torn_save_is_ignored_and_cleaned_up(interrupted, reference):
    folder = interrupted / "s"
    torn = folder / ".tmp-ba4" / "ep0-ba4"
    torn.mkdir(parents=True)
    (torn / "__0_0.distcp").write_bytes(b"half")
    assert resume.choose(folder) == folder / "ba2"
    run_recipe(recipe_at(interrupted), dataloader_factory=DATA)
    assert not (folder / ".tmp-ba4").exists()
    assert_same(outcome(interrupted), reference[1])


def test_export_reads_a_sharded_checkpoint(interrupted, reference, tmp_path):
    """``vlmkit export`` of a stage stopped before its final weights takes its newest sharded
    checkpoint (a ``ba{N}/`` folder), from the recipe, the stage folder or the folder itself,
    and gets the weights of that batch: here the last, so the uninterrupted run's final weights."""
    from vlmkit.cli import main
    from vlmkit.export import from_pretrained

    recipe = write_recipe(tmp_path / "recipe.yaml", recipe_dict(interrupted, stages=STAGES, **SHARDED))
    shutil.copytree(reference[0] / "s" / "ba4", interrupted / "s" / "ba4")  # killed right after its last checkpoint
    for n, args in enumerate([[str(recipe)], [str(interrupted / "s"), "--recipe", str(recipe)],
                              [str(interrupted / "s" / "ba4"), "--recipe", str(recipe)]]):
        assert main(["export", *args, str(tmp_path / f"out{n}")]) == 0
        exported = from_pretrained(tmp_path / f"out{n}").state_dict()
        assert exported.keys() == reference[1][0].keys()
        assert all(torch.equal(exported[k], v) for k, v in reference[1][0].items())


def test_a_damaged_sharded_checkpoint_is_not_exported(interrupted, tmp_path, capsys):
    from vlmkit.cli import main

    recipe = write_recipe(tmp_path / "recipe.yaml", recipe_dict(interrupted, stages=STAGES, **SHARDED))
    (interrupted / "s" / "ba2" / "__0_0.distcp").write_bytes(b"cut")
    assert main(["export", str(recipe), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"{interrupted / 's' / 'ba2'}: not a readable sharded checkpoint" in err and len(err.strip().splitlines()) == 1


def test_switching_format_on_resume_is_one_clear_line(interrupted):
    with pytest.raises(ValueError, match=r"ba2: a sharded checkpoint, but trainer.checkpoint_format is full; "
                                         r"set trainer.checkpoint_format=sharded"):
        run_recipe(recipe_at(interrupted, checkpoint_format="full"), dataloader_factory=DATA)


def test_sharded_needs_fsdp2():
    with pytest.raises(ValueError, match="checkpoint_format 'sharded' needs parallelism 'fsdp2'"):
        validate_recipe(recipe_dict("run", stages=STAGES, checkpoint_format="sharded"))


@pytest.mark.slow
def test_two_processes_write_only_their_shards_and_resume_bit_exactly(tmp_path):
    """``composer -n 2`` (gloo): each rank's file holds only its half of every sharded weight (no
    gather on rank 0); resuming from ``ba2`` ends with the uninterrupted run's weights and losses."""
    run_dir = tmp_path / "run"
    path = write_recipe(tmp_path / "recipe.yaml", recipe_dict(run_dir, stages=STAGES, **SHARDED))
    cmd = [str(Path(python()).with_name("composer")), "-n", "2", str(SCRIPT), str(path)]

    def train():
        done = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        return outcome(run_dir)

    expected = train()
    folder = run_dir / "s" / "ba2"
    assert sorted(p.name for p in folder.iterdir()) == [".metadata", "__0_0.distcp", "__1_0.distcp", sharded.MANIFEST]
    index = composer.read_metadata(folder)
    weights = {k: m for k, m in index.state_dict_metadata.items()
               if k.startswith("state.model.") and hasattr(m, "chunks") and m.size[0] >= 2}
    assert weights
    for key, meta in weights.items():  # FSDP2 shards dim 0: each rank stored its own rows, in its own file
        files = {index.storage_data[sharded_index(index, key, c)].relative_path: c for c in meta.chunks}
        assert sorted(files) == ["__0_0.distcp", "__1_0.distcp"], key
        assert all(c.sizes[0] < meta.size[0] for c in meta.chunks) and files["__0_0.distcp"].offsets[0] == 0
    stop_before_done(run_dir / "s")
    shutil.rmtree(run_dir / "s" / "ba4")
    assert_same(train(), expected)
    assert StageDir(run_dir / "s").read_done()["resumed_from"] == str(folder)


def sharded_index(index, key, chunk):
    """The ``MetadataIndex`` of ``chunk`` of tensor ``key`` in a DCP index."""
    return next(i for i in index.storage_data if i.fqn == key and tuple(i.offset) == tuple(chunk.offsets))
