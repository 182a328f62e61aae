"""Projectors: shapes, planned token counts, block merging, gradients, bad-input errors."""

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from vlmkit.model.projectors.downsample import DownsampleProjector, merge_blocks
from vlmkit.model.projectors.identity import IdentityProjector
from vlmkit.model.projectors.mlp import MLPProjector
from vlmkit.model.projectors.resampler import ResamplerProjector
from vlmkit.registry import registries

# options that keep each registered projector small; identity needs equal widths
OPTIONS = {"resampler": {"num_latents": 5, "heads": 4}, "transformer": {"heads": 2}}


# llava_hf reads its weights from a llava-hf folder of fixed widths: tests/ecosystem/test_llava_import.py
@pytest.mark.parametrize("name", [e.name for e in registries().projectors.entries() if e.source == "vlmkit" and e.name != "llava_hf"])
def test_every_projector_plans_its_tokens_and_trains(name):
    in_dim, out_dim = 16, 16 if name == "identity" else 24
    proj = registries().projectors.get(name)(in_dim=in_dim, out_dim=out_dim, num_input_tokens=12, grid=(3, 4), **OPTIONS.get(name, {}))
    x = torch.randn(3, 12, in_dim, requires_grad=True)
    y = proj(x)
    assert y.shape == (3, proj.num_output_tokens, out_dim)
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for p in proj.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(0.1, 50.0), shift=st.floats(-20.0, 20.0))
def test_mlp_input_norm_ignores_each_tokens_offset_and_scale(scale, shift):
    torch.manual_seed(0)
    x = torch.rand(2, 4, 32) * 6  # post-ReLU6-like features
    normed, plain = MLPProjector(32, 8, 4, input_norm=True), MLPProjector(32, 8, 4)
    with torch.no_grad():
        torch.testing.assert_close(normed(x * scale + shift), normed(x), atol=1e-4, rtol=1e-3)
        assert not torch.allclose(plain(x * 3 + 5), plain(x), atol=1e-3)  # without it the offset shows


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 9), factor=st.integers(1, 4))
def test_downsample_token_count_matches_forward(rows, cols, factor):
    proj = DownsampleProjector(4, 8, rows * cols, (rows, cols), factor=factor, depth=1)
    expected = math.ceil(rows / factor) * math.ceil(cols / factor)
    assert proj.num_output_tokens == expected
    assert proj(torch.randn(2, rows * cols, 4)).shape == (2, expected, 8)


def test_merge_blocks_concatenates_neighbours_row_major():
    # 3x3 grid of scalar tokens 0..8, 2x2 blocks: the right/bottom edges are zero-padded
    x = torch.arange(9.0).view(1, 9, 1)
    merged = merge_blocks(x, (3, 3), 2)
    assert merged.shape == (1, 4, 4)
    assert merged[0].tolist() == [[0, 1, 3, 4], [2, 0, 5, 0], [6, 7, 0, 0], [8, 0, 0, 0]]


@settings(max_examples=15, deadline=None)
@given(tokens=st.integers(1, 40))
def test_resampler_output_is_fixed_for_any_input_length(tokens):
    proj = ResamplerProjector(8, 12, tokens, None, num_latents=3, depth=1, heads=2)
    assert proj.output_tokens(tokens, None) == 3
    assert proj(torch.randn(2, tokens, 8)).shape == (2, 3, 12)


def test_resampler_latents_see_the_features():
    proj = ResamplerProjector(8, 8, 5, None, num_latents=2, depth=1, heads=2).eval()
    a, b = torch.randn(1, 5, 8), torch.randn(1, 5, 8)
    assert not torch.allclose(proj(a), proj(b))


def test_identity_rejects_different_widths():
    with pytest.raises(ValueError, match="use 'linear' or 'mlp'"):
        IdentityProjector(8, 16, 4)


def test_downsample_needs_a_grid():
    with pytest.raises(ValueError, match="select_feature: patch"):
        DownsampleProjector(8, 16, 5, None)


@pytest.mark.parametrize("name", ["resampler", "transformer"])
def test_bad_heads_are_named(name):
    with pytest.raises(ValueError, match="not divisible by heads 3"):
        registries().projectors.get(name)(in_dim=16, out_dim=16, num_input_tokens=4, heads=3)
