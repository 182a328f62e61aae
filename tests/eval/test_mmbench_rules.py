"""The two MMBench reply readers: OpenCompass's official ``tools/eval_mmbench.py`` (the default)
and VLMEvalKit's newer ``can_infer``, on the replies where they disagree and on drawn replies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmkit.eval.metrics import MMBENCH_RULES, mmbench_extract_choice, mmbench_opencompass_choice
from vlmkit.eval.tasks import build_task

CHOICES = {"A": "a cat", "B": "a dog on a mat", "C": "a bird", "D": "a fish"}
opencompass, vlmevalkit = mmbench_opencompass_choice, mmbench_extract_choice


@pytest.mark.parametrize(
    ("reply", "official", "newer"),
    [
        # the article rule: OpenCompass distrusts a bare "A" in a reply of more than three words
        ("A dog is sitting on the mat", None, "A"),
        ("A dog on a mat is sitting here", "B", "A"),  # ... and falls back to the option text
        ("A cat", "A", "A"),  # two words: the letter stands
        # punctuation: OpenCompass splits on whitespace only, VLMEvalKit blanks .()[],:;!*#{} first
        ("I think it is A, not B", "B", None),
        ("B, C", "C", None),
        ("(C) a bird", "C", "C"),  # OpenCompass's (X) pattern
        ("The answer is D.", "D", "D"),  # OpenCompass's X. pattern
        ("B. or C.", None, None),  # two letters under every pattern, no option text
        ("E", "E", None),  # OpenCompass always considers A-E
        ("Z", None, "Z"),  # VLMEvalKit's 'no answer' letter
        ("Cannot determine the answer", None, "Z"),
        ("Failed to obtain answer via API: B", None, None),  # both skip the letter rules
    ],
)
def test_the_readers_disagree_where_their_sources_do(reply, official, newer):
    assert opencompass(reply, CHOICES) == official
    assert vlmevalkit(reply, CHOICES) == newer


lower_words = st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6), min_size=0, max_size=6)
letter = st.sampled_from("ABCD")
NUMBERED = {k: f"option {i}" for i, k in enumerate("ABCD")}  # texts no drawn reply can contain


@settings(max_examples=200, deadline=None)
@given(letter=letter, before=lower_words, after=lower_words, pattern=st.sampled_from(["{}", "{}.", "({})", "{})", "{}:"]))
def test_one_marked_letter_among_lowercase_words_is_read_by_both(letter, before, after, pattern):
    """A single letter, bare or in a pattern both rules know, among lowercase words is the answer
    -- except a bare A in a long reply, which OpenCompass treats as a possible article."""
    reply = " ".join([*before, pattern.format(letter), *after])
    assert vlmevalkit(reply, NUMBERED) == letter
    article = pattern == "{}" and letter == "A" and len(before) + len(after) + 1 > 3
    assert opencompass(reply, NUMBERED) == (None if article else letter)


@settings(max_examples=200, deadline=None)
@given(words=lower_words, texts=st.lists(st.text("abcdefgh ", min_size=1, max_size=8), min_size=2, max_size=4, unique=True))
def test_without_capital_letters_both_rules_are_the_text_rule(words, texts):
    choices = dict(zip("ABCD", texts))
    reply = " ".join(words)
    contained = [k for k, t in choices.items() if t.lower() in reply]
    expected = contained[0] if len(contained) == 1 else None
    assert opencompass(reply, choices) == vlmevalkit(reply, choices) == expected


@settings(max_examples=100, deadline=None)
@given(first=letter, second=letter, words=lower_words)
def test_two_bare_letters_are_never_read_as_one(first, second, words):
    if first == second:
        return
    reply = " ".join([first, *words, second])
    choices = NUMBERED
    assert vlmevalkit(reply, choices) is None and opencompass(reply, choices) is None


def test_the_mmbench_task_reads_with_the_named_rule(tmp_path):
    import base64
    import io

    from PIL import Image

    from vlmkit.eval.scoring import score_replies

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buffer, format="PNG")
    tsv = tmp_path / "mmbench.tsv"
    image = base64.b64encode(buffer.getvalue()).decode()
    rows = [["index", "question", "hint", "A", "B", "answer", "category", "image"],
            ["0", "What is it?", "nan", "a cat", "a dog on a mat", "A", "c", image]]
    tsv.write_text("\n".join("\t".join(r) for r in rows) + "\n")
    replies = ["A dog on a mat is sitting here"]
    official = build_task("mmbench", {"annotations": tsv, "circular": False})
    newer = build_task("mmbench", {"annotations": tsv, "circular": False, "choice_rule": "vlmevalkit"})
    assert score_replies(official, official.examples(), replies)[1]["accuracy"] == 0.0  # read as B (the text)
    assert score_replies(newer, newer.examples(), replies)[1]["accuracy"] == 1.0  # read as A
    assert set(MMBENCH_RULES) == {"opencompass", "vlmevalkit"}
    with pytest.raises(ValueError, match="choice_rule 'gpt' is not one of opencompass, vlmevalkit"):
        build_task("mmbench", {"annotations": tsv, "choice_rule": "gpt"})
