"""Honest scores: bootstrap intervals over items, and the chance and blind (no image) baselines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from vlmkit.eval.intervals import bootstrap_interval, paired_difference_interval, score_intervals
from vlmkit.eval.scoring import score_replies
from vlmkit.eval.tasks import build_task


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=200), st.integers(0, 9))
def test_interval_brackets_the_mean_within_the_range(values, seed):
    low, high = bootstrap_interval(values, seed=seed, resamples=300)
    mean = float(np.mean(values))
    assert min(values) - 1e-12 <= low <= mean + 1e-9 and mean - 1e-9 <= high <= max(values) + 1e-12


def test_interval_covers_the_true_rate_about_95_percent():
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(200):
        x = rng.random(300) < 0.7
        low, high = bootstrap_interval(x, seed=trial, resamples=1000)
        covered += low <= 0.7 <= high
    assert 0.90 <= covered / 200 <= 0.99


def test_interval_narrows_with_more_items():
    rng = np.random.default_rng(1)
    small = bootstrap_interval(rng.random(50) < 0.5)
    large = bootstrap_interval(rng.random(2000) < 0.5)
    assert large[1] - large[0] < 0.4 * (small[1] - small[0])


@pytest.fixture(scope="module")
def easy_vqa():
    task = build_task("easy_vqa", {})
    return task, task.examples()[:200]


def test_easy_vqa_blind_baseline_is_the_answer_prior(easy_vqa):
    task, examples = easy_vqa
    base = task.baselines(examples)
    chance, blind = base["chance"], base["blind"]
    assert chance["yes/no/accuracy"] == pytest.approx(0.5)
    assert chance["shape/accuracy"] == pytest.approx(1 / 3)
    assert chance["accuracy"] < 0.5
    # the most frequent training answer of each question, no image: far above chance (~0.66 here)
    assert 0.55 < blind["accuracy"] < 0.8 and blind["accuracy"] > chance["accuracy"] + 0.2
    assert blind["yes/no/accuracy"] > 0.7


def test_intervals_only_for_scores_that_are_item_means(easy_vqa):
    task, examples = easy_vqa
    replies = [ex.target if i % 3 else "nothing" for i, ex in enumerate(examples)]
    predictions, scores = score_replies(task, examples, replies)
    intervals = score_intervals(task, predictions, scores)
    assert set(intervals) == set(scores)  # accuracy and each type's accuracy
    for name, (low, high) in intervals.items():
        assert low <= scores[name] <= high

    names = build_task("fewshot_names", {"episodes": 20})
    ex = names.examples()
    preds, sc = score_replies(names, ex, [e.target for e in ex[:10]] + ["blicket"] * 10)
    got = score_intervals(names, preds, sc)
    assert set(got) == {"accuracy"}  # "answered_a_shown_name" and "chance" are not item means
    assert names.baselines(ex) == {"chance": {"accuracy": 0.5}, "blind": {"accuracy": 0.5}}


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.integers(0, 500), st.floats(0, 1), min_size=1, max_size=80), st.floats(-0.5, 0.5))
def test_paired_difference_of_a_shifted_copy_is_the_shift(a, shift):
    b = {k: v - shift for k, v in a.items()}
    mean, low, high, n = paired_difference_interval(a, b, resamples=200)
    assert n == len(a) and mean == pytest.approx(shift) and low == pytest.approx(shift) and high == pytest.approx(shift)


def test_paired_difference_uses_only_shared_items_and_sees_a_small_real_gain():
    rng = np.random.default_rng(3)
    base = rng.random(1000) < 0.6
    better = base | (rng.random(1000) < 0.05)  # the same answers plus ~2 points more correct
    a = {i: float(v) for i, v in enumerate(better)}
    b = {i: float(v) for i, v in enumerate(base)} | {"extra": 1.0}
    mean, low, high, n = paired_difference_interval(a, b)
    assert n == 1000 and 0 < low < mean < high  # paired: beyond noise although unpaired intervals overlap
    lo_a, hi_a = bootstrap_interval(list(a.values()))
    lo_b, hi_b = bootstrap_interval(list(b.values()))
    assert lo_a < hi_b
    with pytest.raises(ValueError, match="share no items"):
        paired_difference_interval({1: 1.0}, {2: 1.0})
