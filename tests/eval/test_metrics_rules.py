"""POPE, MME, MMBench, ScienceQA, GQA, SEED, MMLU rules and CIDEr-D on hand-worked cases."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vlmkit.eval.metrics import (
    cider,
    coco_tokenize,
    gqa_match,
    mmbench_circular_accuracy,
    mmbench_extract_choice,
    mme_parse,
    mme_scores,
    mmlu_choice,
    pope_metrics,
    pope_parse,
    scienceqa_parse,
    seed_match,
)


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("No, there is no dog.", "no"),
        ("Yes. No wait.", "yes"),  # only the first sentence counts
        ("There is not a dog", "no"),
        ("NO", "yes"),  # exact words only
        ("Nope", "yes"),
        ("", "yes"),
    ],
)
def test_pope_parse(text, parsed):
    assert pope_parse(text) == parsed


def test_pope_metrics_by_hand():
    preds = ["yes", "yes", "no", "no", "yes"]
    labels = ["yes", "no", "no", "yes", "yes"]
    m = pope_metrics(preds, labels)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 1, 1)
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["yes_ratio"] == pytest.approx(0.6)
    assert pope_metrics(["no"], ["yes"])["precision"] == 0.0
    with pytest.raises(ValueError, match="one prediction per label"):
        pope_metrics(["yes"], [])


@pytest.mark.parametrize("text, parsed", [("Yes", "yes"), ("no.", "no"), ("Not sure", "no"), ("The answer is yes", "other"), ("yes!", "yes")])
def test_mme_parse(text, parsed):
    assert mme_parse(text) == parsed


def test_mme_scores_by_hand():
    rows = [
        # existence: image a both right, image b one right -> acc 3/4, acc+ 1/2 -> 125
        {"category": "existence", "image": "a", "label": "Yes", "prediction": "Yes"},
        {"category": "existence", "image": "a", "label": "No", "prediction": "No"},
        {"category": "existence", "image": "b", "label": "Yes", "prediction": "yes"},
        {"category": "existence", "image": "b", "label": "No", "prediction": "maybe"},
        # code_reasoning: both right -> 200
        {"category": "code_reasoning", "image": "c", "label": "yes", "prediction": "yes"},
        {"category": "code_reasoning", "image": "c", "label": "no", "prediction": "no"},
    ]
    s = mme_scores(rows)
    assert s["categories"]["existence"]["score"] == pytest.approx(125.0)
    assert s["perception"] == pytest.approx(125.0) and s["cognition"] == pytest.approx(200.0)
    assert s["total"] == pytest.approx(325.0)
    with pytest.raises(ValueError, match="'yes' or 'no'"):
        mme_scores([{"category": "OCR", "image": "x", "label": "maybe", "prediction": "yes"}])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("B", "B"),
        ("(C) a cat", "C"),
        ("The answer is D.", "D"),
        ("a red apple", "A"),  # no letter: the unique option text decides
        ("A or B", None),  # two letters
        ("apple or cat", None),  # two option texts
        ("Z", "Z"),
        ("Cannot determine the answer", "Z"),
        ("I don't know", None),
    ],
)
def test_mmbench_extract_choice(text, expected):
    choices = {"A": "red apple", "B": "dog", "C": "cat", "D": "apple pie"}
    if text == "apple or cat":
        choices = {"A": "apple", "B": "cat"}
    assert mmbench_extract_choice(text, choices) == expected


def test_mmbench_choices_as_list_and_circular():
    assert mmbench_extract_choice("dog", ["cat", "dog"]) == "B"
    rows = [
        {"group": 1, "correct": True}, {"group": 1, "correct": True},
        {"group": 2, "correct": True}, {"group": 2, "correct": False},
        {"group": 3, "correct": True},
    ]
    assert mmbench_circular_accuracy(rows) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "text, n, index",
    [("A", 3, 0), ("C. blue", 3, 2), ("The answer is B.", 2, 1), ("D", 3, -1), ("AB", 5, -1), ("", 2, -1),
     ("The answer is A. The answer is B.", 2, -1), ("I think B", 2, -1)],
)
def test_scienceqa_parse(text, n, index):
    assert scienceqa_parse(text, n) == index


def test_gqa_seed_mmlu():
    assert gqa_match("Yes.", "yes") and not gqa_match("yes, it is", "yes")
    assert seed_match(" B\n", "B") and not seed_match("B.", "B")
    assert mmlu_choice([-3.0, -1.0, -1.0, -9.0]) == 1


def test_cider_hand_worked():
    # Two items, one reference each: every n-gram's df is 1, idf = log 2. Item 1's prediction
    # equals its reference -> cosine 1 for every n, no length penalty -> 10. Item 2 shares nothing.
    score, per_item = cider([["a b c d"], ["e f g h"]], ["a b c d", "x y"])
    assert per_item == pytest.approx([10.0, 0.0])
    assert score == pytest.approx(5.0)
    # Length penalty: same unigrams/bigrams structure, bigram counts differ by d -> exp(-d^2/72).
    _, (s,) = cider([["a"]], ["a"])
    assert s == 0.0  # a single item: idf log(1) - log(1) = 0 everywhere


def test_cider_length_penalty_and_clipping():
    refs = [["a b"], ["c d"]]
    # hyp "a b a b": unigram a,b tf 2 vs ref tf 1: clipped min(2w, w)*w = w^2 each -> cos = 2w^2/(sqrt(8)w * sqrt(2)w) = 0.5
    # bigram: "a b" tf2, "b a" tf1 (df 0 -> idf log2 too); dot = min(2w,w)*w = w^2; |h| = sqrt(5)w, |r| = w -> 1/sqrt(5)
    # trigram/4-gram: ref has none -> 0. bigram counts 3 vs 1 -> penalty exp(-4/72).
    _, (s, _) = cider(refs, ["a b a b", "zz"])
    expected = 10 * (0.5 + 1 / math.sqrt(5)) / 4 * math.exp(-4 / 72)
    assert s == pytest.approx(expected)


@given(st.lists(st.lists(st.sampled_from("a b c d".split()), min_size=1, max_size=6).map(" ".join), min_size=2, max_size=6))
def test_cider_prediction_equal_to_sole_reference_is_maximal(captions):
    refs = [[c] for c in captions]
    _, perfect = cider(refs, captions)
    _, shuffled = cider(refs, captions[1:] + captions[:1])
    for p, s in zip(perfect, shuffled):
        assert p >= s - 1e-9


def test_coco_tokenize_and_errors():
    assert coco_tokenize("A man's hat, on a TABLE.") == "a man 's hat on a table"
    assert coco_tokenize("It isn't (really) red!") == "it is n't really red"
    with pytest.raises(ValueError, match="one prediction per item"):
        cider([["a"]], [])
    with pytest.raises(ValueError, match="at least one reference"):
        cider([[]], ["a"])
