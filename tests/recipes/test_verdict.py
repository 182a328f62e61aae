"""The paper's directions ('a > b', 'a >= b', 'a ~ b') judged against scores."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vlmkit.experiments.verdict import AGREES, DISAGREES, INCONCLUSIVE, judge_chain, parse_chain

score = st.floats(0, 1, allow_nan=False)
tol = st.floats(0, 0.1, allow_nan=False)


def test_parse_chain_reads_every_relation():
    rels = parse_chain("mmc4_coyo >= mmc4 > coyo", ["coyo", "mmc4", "mmc4_coyo"])
    assert [(r.left, r.op, r.right) for r in rels] == [("mmc4_coyo", ">=", "mmc4"), ("mmc4", ">", "coyo")]


@pytest.mark.parametrize("text, message", [("a > z", "not arms"), ("a", "compare arms"), ("a > > b", "compare arms")])
def test_parse_chain_rejects_bad_directions(text, message):
    with pytest.raises(ValueError, match=message):
        parse_chain(text, ["a", "b"])


@given(a=score, b=score, t=tol)
def test_greater_than(a, b, t):
    verdict = judge_chain(parse_chain("a > b", ["a", "b"]), {"a": a, "b": b}, t)
    expected = AGREES if a - b > t else DISAGREES if b - a > t else INCONCLUSIVE
    assert verdict == expected


@given(a=score, b=score, t=tol)
def test_similar_is_symmetric_and_bounded_by_tolerance(a, b, t):
    forward = judge_chain(parse_chain("a ~ b", ["a", "b"]), {"a": a, "b": b}, t)
    backward = judge_chain(parse_chain("b ~ a", ["a", "b"]), {"a": a, "b": b}, t)
    assert forward == backward == (AGREES if abs(a - b) <= t else DISAGREES)


@given(a=score, b=score, c=score, t=tol)
def test_a_chain_disagrees_when_any_link_disagrees(a, b, c, t):
    scores = {"a": a, "b": b, "c": c}
    chain = judge_chain(parse_chain("a >= b > c", list(scores)), scores, t)
    links = [judge_chain(parse_chain(x, list(scores)), scores, t) for x in ("a >= b", "b > c")]
    if DISAGREES in links:
        assert chain == DISAGREES
    elif all(link == AGREES for link in links):
        assert chain == AGREES
    else:
        assert chain == INCONCLUSIVE
