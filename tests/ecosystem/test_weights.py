"""Safetensors weights (vlmkit.storage.weights, the one format for final stage weights and exports):
tied tensors stored once and read back under every name, strict loading, meta modules refused."""

import pytest
import torch
from safetensors import safe_open
from torch import nn

from vlmkit.storage.weights import load_weights, read_state_dict, save_state_dict, save_weights


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path):
    torch.manual_seed(0)
    a = Tied()
    save_weights(a, tmp_path / "w.safetensors")
    with safe_open(str(tmp_path / "w.safetensors"), "pt") as f:
        assert sorted(f.keys()) == ["embed.weight"]
    b = Tied()
    load_weights(b, tmp_path / "w.safetensors")
    assert torch.equal(b.head.weight, a.embed.weight) and b.head.weight is b.embed.weight


def test_a_different_architecture_is_named(tmp_path):
    save_weights(nn.Linear(3, 4), tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="unexpected"):
        load_weights(nn.Sequential(nn.Linear(3, 4)), tmp_path / "w.safetensors")
    with pytest.raises(FileNotFoundError):
        load_weights(nn.Linear(3, 4), tmp_path / "missing.safetensors")


def test_loading_into_meta_tensors_is_refused_not_silently_skipped(tmp_path):
    save_weights(nn.Linear(3, 4), tmp_path / "w.safetensors")
    with torch.device("meta"):
        module = nn.Linear(3, 4)
    with pytest.raises(ValueError, match="meta device"):
        load_weights(module, tmp_path / "w.safetensors")


def test_a_state_dict_with_tied_tensors_is_stored_once_and_read_back_whole(tmp_path):
    """What training writes as a stage's final weights (a state dict, as FSDP gathers it)."""
    torch.manual_seed(0)
    model = Tied()
    path = tmp_path / "model.safetensors"
    save_state_dict(model.state_dict(), path)
    with safe_open(str(path), "pt") as f:
        assert sorted(f.keys()) == ["embed.weight"]
    state = read_state_dict(path)
    assert state.keys() == model.state_dict().keys() and torch.equal(state["head.weight"], model.embed.weight)
    fresh = Tied()
    load_weights(fresh, path)
    assert torch.equal(fresh.head.weight, model.embed.weight) and fresh.head.weight is fresh.embed.weight


def test_views_of_the_same_memory_with_other_shapes_are_not_tied(tmp_path):
    base = torch.arange(6.0)
    save_state_dict({"flat": base, "square": base.view(2, 3), "head": base[:3], "empty": torch.zeros(0), "none": torch.zeros(0, dtype=torch.int8)},
                    tmp_path / "w.safetensors")
    state = read_state_dict(tmp_path / "w.safetensors")
    assert state["square"].shape == (2, 3) and torch.equal(state["head"], torch.arange(3.0)) and state["none"].dtype == torch.int8
    with safe_open(str(tmp_path / "w.safetensors"), "pt") as f:
        assert sorted(f.keys()) == ["empty", "flat", "head", "none", "square"]


def test_a_damaged_file_is_named_in_one_line(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ValueError, match=f"{path}: not a readable safetensors file .*it is damaged: write it again"):
        read_state_dict(path)
