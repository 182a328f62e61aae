"""``vlmkit.eval.metrics.cider`` against pycocoevalcap's own CIDEr-D scorer (pure Python; its Java
PTB tokenizer is not used: both sides get the same pre-tokenized, space-separated captions) on a
few hundred drawn caption sets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocoevalcap.cider.cider import Cider  # a dev dependency (pip install -e .[dev])

from vlmkit.eval.metrics import cider

# a small vocabulary, so drawn captions share n-grams of every order
word = st.sampled_from("a an the dog cat man red blue sits runs on in park grass ball with two".split())
caption = st.lists(word, min_size=1, max_size=12).map(" ".join)
item = st.tuples(st.lists(caption, min_size=1, max_size=5), caption)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(item, min_size=1, max_size=8))
def test_cider_equals_pycocoevalcap(items):
    references = [refs for refs, _ in items]
    predictions = [pred for _, pred in items]
    theirs, their_items = Cider().compute_score({i: refs for i, refs in enumerate(references)},
                                                {i: [pred] for i, pred in enumerate(predictions)})
    ours, our_items = cider(references, predictions)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    assert our_items == pytest.approx(list(their_items), rel=1e-9, abs=1e-12)


def test_identical_captions_in_a_varied_corpus_score_high_on_both():
    references = [["a dog sits on the grass"], ["two cats in a park"], ["the man runs with a red ball"]]
    predictions = ["a dog sits on the grass", "two cats in a park", "a blue ball"]
    theirs, _ = Cider().compute_score(dict(enumerate(references)), {i: [p] for i, p in enumerate(predictions)})
    ours, per_item = cider(references, predictions)
    assert ours == pytest.approx(theirs) and per_item[0] > 5 > per_item[2]
