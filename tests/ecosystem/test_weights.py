"""Safetensors weights of modules: tied tensors stored once, strict loading, meta modules refused."""

import pytest
import torch
from safetensors import safe_open
from torch import nn

from vlmkit.storage.weights import load_weights, save_weights


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
