"""VQA accuracy and the EvalAI answer processor on hand-worked cases."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vlmkit.eval.metrics import evalai_answer_processor, vqa_accuracy, vqa_normalize


def ten(counts: dict[str, int]) -> list[str]:
    answers = [a for a, n in counts.items() for _ in range(n)]
    assert len(answers) == 10
    return answers


@pytest.mark.parametrize(
    "matches, expected",
    # k matching answers: the k "own" subsets see k-1 matches, the others k (capped at 3).
    [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)],
)
def test_leave_one_out_average(matches, expected):
    answers = ["red"] * matches + ["blue"] * (10 - matches)
    assert vqa_accuracy("red", answers) == pytest.approx(expected)


def test_identical_answers_skip_normalisation():
    # vqaEval.py normalises only when the ten answers differ: case then matters.
    assert vqa_accuracy("Yes", ["yes"] * 10) == 0.0
    assert vqa_accuracy(" yes\n", ["yes"] * 10) == 1.0
    # ...and with one dissenting answer the same prediction is normalised and matches.
    assert vqa_accuracy("Yes", ten({"yes": 9, "no": 1})) == pytest.approx(1.0)


def test_digits_articles_contractions():
    answers = ten({"2": 3, "two dogs": 7})
    assert vqa_accuracy("Two", answers) == pytest.approx(0.9)
    assert vqa_normalize("The dont") == "don't"
    assert vqa_normalize("none of a kind") == "0 of kind"


def test_punctuation_rules():
    # A mark next to a space is deleted; otherwise it becomes a space.
    assert vqa_normalize("hello - world") == "hello world"
    assert vqa_normalize("hello-world") == "hello world"
    # digit,digit anywhere deletes every mark; a period survives only before a digit.
    assert vqa_normalize("1,000 (approx)") == "1000 approx"
    assert vqa_normalize("3.5 ft.") == "3.5 ft"
    # The apostrophe is not in the punctuation list.
    assert vqa_normalize("man's") == "man's"


def test_textvqa_always_normalises():
    assert evalai_answer_processor("The Man's Hat, OK?") == "man 's hat ok"
    assert vqa_accuracy("Yes", ["yes"] * 10, variant="textvqa") == 1.0
    assert vqa_accuracy("STOP.", ten({"stop": 2, "stop sign": 8}), variant="textvqa") == pytest.approx(0.6)


def test_bad_variant_and_empty_answers():
    with pytest.raises(ValueError, match="vqav2"):
        vqa_accuracy("a", ["a"], variant="okvqa")
    with pytest.raises(ValueError, match="at least one"):
        vqa_accuracy("a", [])


@given(st.text(max_size=20), st.lists(st.text(max_size=10), min_size=1, max_size=10), st.sampled_from(["vqav2", "textvqa"]))
def test_accuracy_is_a_multiple_of_a_thirtieth_in_unit_range(pred, answers, variant):
    acc = vqa_accuracy(pred, answers, variant)
    assert 0.0 <= acc <= 1.0
    if len(answers) == 10:
        assert abs(acc * 30 - round(acc * 30)) < 1e-9


@given(st.lists(st.sampled_from(["cat", "dog", "a cat", "Cat."]), min_size=10, max_size=10))
def test_prediction_equal_to_every_answer_scores_one(answers):
    answers = [answers[0]] * 10
    assert vqa_accuracy(answers[0], answers) == 1.0
