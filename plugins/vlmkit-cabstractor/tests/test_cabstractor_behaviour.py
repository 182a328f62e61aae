"""What makes a C-Abstractor a C-Abstractor: a fixed token count whatever the grid, locality,
clear errors for inputs it cannot take."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmkit_cabstractor.cabstractor import CAbstractor, infer_grid


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 7), cols=st.integers(1, 7), side=st.integers(1, 4), cls=st.booleans())
def test_token_count_is_num_queries_for_any_grid(rows, cols, side, cls):
    tokens = rows * cols
    grid = None if cls else (rows, cols)
    if cls:  # CLS + square grid, no grid given
        tokens = rows * rows + 1
    p = CAbstractor(8, 12, tokens, grid, num_queries=side * side, depth=1, hidden_dim=8).eval()
    out = p(torch.randn(2, tokens, 8))
    assert out.shape == (2, side * side, 12)
    assert p.num_output_tokens == side * side


def test_cls_token_is_dropped():
    p = CAbstractor(8, 12, 17, None, num_queries=4, depth=1).eval()
    x = torch.randn(1, 17, 8)
    y = x.clone()
    y[:, 0] += 100.0  # change only the CLS token
    torch.testing.assert_close(p(x), p(y))


def test_pooling_keeps_locality():
    """With no convolutions (depth 0) and no positions, each output token sees only its quadrant."""
    p = CAbstractor(4, 6, 16, (4, 4), num_queries=4, depth=0, pos_emb=False).eval()
    x = torch.randn(1, 16, 4)
    y = x.clone()
    y[0, 0] += 10.0  # top-left patch: only the top-left query changes
    diff = (p(x) - p(y)).abs().sum(-1)[0]
    assert diff[0] > 0 and torch.all(diff[1:] == 0)


@pytest.mark.parametrize(("kwargs", "message"), [({"num_queries": 5}, "square number"), ({"depth": -1}, "depth")])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CAbstractor(8, 8, 16, (4, 4), **kwargs)


def test_tokens_without_a_grid_are_refused_clearly():
    with pytest.raises(ValueError, match="2-D grid"):
        infer_grid(12, None)
    assert infer_grid(12, (3, 4)) == ((3, 4), 0)
    assert infer_grid(50, None) == ((7, 7), 1)
