"""One weights I/O (tied tensors stored once, every name read back, for training's final weights
and exports alike) and one cache builder (atomic, built once under a lock, no lock file left)."""

from __future__ import annotations

import stat
import threading
import time

import pytest
import torch
from safetensors import safe_open
from torch import nn

from vlmkit.storage.cache import build_once, cache_root
from vlmkit.storage.weights import load_weights, read_state_dict, save_state_dict


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight
        self.view = nn.Parameter(torch.zeros(3, 2))


def test_a_state_dict_with_tied_tensors_is_stored_once_and_read_back_whole(tmp_path):
    torch.manual_seed(0)
    model = Tied()
    path = tmp_path / "model.safetensors"
    save_state_dict(model.state_dict(), path)  # what training writes as a stage's final weights
    with safe_open(str(path), "pt") as f:
        assert sorted(f.keys()) == ["embed.weight", "view"]
    state = read_state_dict(path)
    assert state.keys() == model.state_dict().keys()
    assert torch.equal(state["head.weight"], model.embed.weight)
    fresh = Tied()
    load_weights(fresh, path)
    assert torch.equal(fresh.head.weight, model.embed.weight) and fresh.head.weight is fresh.embed.weight


def test_views_of_the_same_memory_with_other_shapes_are_not_tied(tmp_path):
    base = torch.arange(6.0)
    save_state_dict({"flat": base, "square": base.view(2, 3), "head": base[:3]}, tmp_path / "w.safetensors")
    state = read_state_dict(tmp_path / "w.safetensors")
    assert state["square"].shape == (2, 3) and torch.equal(state["head"], torch.arange(3.0))
    with safe_open(str(tmp_path / "w.safetensors"), "pt") as f:
        assert sorted(f.keys()) == ["flat", "head", "square"]


def test_a_damaged_file_is_named_in_one_line(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ValueError, match=f"{path}: not a readable safetensors file .*it is damaged: write it again"):
        read_state_dict(path)


def test_builds_once_with_a_completion_rule_and_leaves_only_the_result(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        time.sleep(0.2)
        (folder / "index.json").write_text("{}")

    target = tmp_path / "set"
    threads = [threading.Thread(target=build_once, args=(target, build, lambda p: (p / "index.json").is_file())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no lock file, no temporary
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # shared like any cache folder, not mkdtemp's 0700


def test_the_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VLMKIT_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.setenv("VLMKIT_CACHE", "")
    assert cache_root().parts[-2:] == (".cache", "vlmkit")
