"""Answer rules of the multiple-choice and short-answer benchmarks (LLaVA-1.5 / VILA scripts)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable, Mapping, Sequence

SCIENCEQA_OPTIONS = ("A", "B", "C", "D", "E")
_SQA_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")
_MMBENCH_SEPARATORS = ".()[],:;!*#{}"
_MMBENCH_REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_OPENCOMPASS_LETTERS = "ABCDE"  # can_infer_option(answer, num_choice=5)
_OPENCOMPASS_PATTERNS = (
    ("", "."), ("", ","), ("", ":"), ("", ")"), ("", ")."), ("(", ")"), ("(", ")."),
    (":", ""), (":", ","), (":", "."), (":", ")"), (":", ")."),
)
_API_FAILURE = "Failed to obtain answer via API"


def option_letters(n: int) -> list[str]:
    """``["A", "B", ...]`` for ``n`` options (at most 26)."""
    if not 0 < n <= 26:
        raise ValueError(f"a multiple-choice question needs 1 to 26 options, got {n}")
    return [chr(ord("A") + i) for i in range(n)]


def _as_letters(choices: Mapping[str, str] | Sequence[str]) -> Mapping[str, str]:
    return choices if isinstance(choices, Mapping) else dict(zip(option_letters(len(choices)), choices))


def _option_text_choice(text: str, choices: Mapping[str, str]) -> str | None:
    """The text rule both MMBench evaluators share (``can_infer_text``): exactly one option text
    (lowercased) occurs in the lowercased reply."""
    lowered = text.lower()
    contained = [letter for letter, option in choices.items() if str(option).lower() in lowered]
    return contained[0] if len(contained) == 1 else None


def mmbench_extract_choice(text: str, choices: Mapping[str, str] | Sequence[str]) -> str | None:
    """The option letter a free-form reply picks, by VLMEvalKit's ``can_infer``
    (``vlmeval/utils/matching_util.py``, the 2024 rules applied before falling back to a judge
    LLM); ``None`` when it cannot tell. Rule name: ``vlmevalkit``.

    ``choices`` maps letters to option texts (a list is lettered A, B, ...). First the letter
    rule: after turning ``.()[],:;!*#{}`` into spaces, exactly one option letter must stand as a
    word (none, but a standalone ``Z``, gives ``"Z"``; a known refusal phrase gives ``"Z"``; a
    reply holding "Failed to obtain answer via API" skips this rule). A
    leading article ("A dog ...") counts as the letter A (VLMEvalKit only logs the doubt, under
    ``VERBOSE``). Otherwise the text rule: exactly one option text occurs in the reply.
    """
    choices = _as_letters(choices)
    if _API_FAILURE in text:
        return _option_text_choice(text, choices)
    if any(refusal in text for refusal in _MMBENCH_REFUSALS):
        return "Z"
    spaced = text
    for ch in _MMBENCH_SEPARATORS:
        spaced = spaced.replace(ch, " ")
    words = spaced.split()
    named = [letter for letter in choices if letter in words]
    if len(named) == 1:
        return named[0]
    if not named and "Z" in words:
        return "Z"
    return _option_text_choice(text, choices)


def mmbench_opencompass_choice(text: str, choices: Mapping[str, str] | Sequence[str]) -> str | None:
    """The option letter a reply picks by the official MMBench evaluation, OpenCompass's
    ``tools/eval_mmbench.py`` (``can_infer``, the exact-matching step the MMBench paper's numbers
    were scored with before ChatGPT extraction); ``None`` when it cannot tell. Rule name:
    ``opencompass`` (the default of the ``mmbench`` tasks).

    The reply is split on whitespace only (punctuation stays attached) and the letters A-E are
    candidates whatever the question's option count. (1) Exactly one bare letter among the words
    is the answer -- unless the word ``A`` occurs in a reply of more than three words ("A dog is
    sitting on the mat"): then ``A`` may be an article and this step gives up. (2) Else, for each
    ``prefix + letter + suffix`` pattern in the order ``X.``, ``X,``, ``X:``, ``X)``, ``X).``,
    ``(X)``, ``(X).``, ``:X``, ``:X,``, ``:X.``, ``:X)``, ``:X).``, the first pattern matched by
    exactly one letter decides. (3) Else the text rule: exactly one option text occurs in the reply.
    A reply holding "Failed to obtain answer via API" skips (1)-(2).
    """
    choices = _as_letters(choices)
    if _API_FAILURE not in text:
        words = [w.strip() for w in text.split()]
        bare = [c for c in _OPENCOMPASS_LETTERS if c in words]
        article = "A" in words and len(words) > 3
        if len(bare) == 1 and not article:
            return bare[0]
        for prefix, suffix in _OPENCOMPASS_PATTERNS:
            hits = [c for c in _OPENCOMPASS_LETTERS if prefix + c + suffix in words]
            if len(hits) == 1:
                return hits[0]
    return _option_text_choice(text, choices)


# The MMBench reply readers by name (the ``choice_rule`` option of the mmbench tasks).
MMBENCH_RULES = {"opencompass": mmbench_opencompass_choice, "vlmevalkit": mmbench_extract_choice}


def mmbench_circular_accuracy(rows: Iterable[Mapping]) -> float:
    """MMBench CircularEval: rows ``{"group", "correct"}``, one per (question, option rotation);
    a question scores only if every one of its rotations is correct. Returns the share of groups."""
    groups: dict = defaultdict(list)
    for row in rows:
        groups[row["group"]].append(bool(row["correct"]))
    if not groups:
        raise ValueError("circular accuracy needs at least one row")
    return sum(all(hits) for hits in groups.values()) / len(groups)


def scienceqa_parse(text: str, num_choices: int, options: Sequence[str] = SCIENCEQA_OPTIONS) -> int:
    """Option index picked by a reply, or -1, by LLaVA-1.5 / VILA's ``eval_science_qa.py``.

    The reply is taken if it is exactly a letter among the first ``num_choices`` of ``options``,
    or starts with such a letter followed by ``.``; else ``The answer is X.`` must occur exactly
    once. Letters beyond the question's options give -1.
    """
    options = tuple(options)
    if text in options:
        letter = text
    elif len(text) >= 2 and text[0] in options and text[1] == ".":
        letter = text[0]
    else:
        found = _SQA_ANSWER_IS.findall(text)
        letter = found[0] if len(found) == 1 else ""
    allowed = options[:num_choices]
    return allowed.index(letter) if letter in allowed else -1


def gqa_normalize(text: str) -> str:
    """``convert_gqa_for_eval.py``: trailing periods stripped, lowercased (GQA's ``eval.py``
    then compares with the gold answer exactly)."""
    return text.rstrip(".").lower()


def gqa_match(text: str, answer: str) -> bool:
    """GQA accuracy of one reply: :func:`gqa_normalize` equals the gold answer."""
    return gqa_normalize(text) == answer


def seed_match(text: str, answer: str) -> bool:
    """SEED-Bench (``convert_seed_for_submission.py``): the stripped reply must be the answer letter."""
    return text.strip() == answer


def mmlu_choice(option_logprobs: Sequence[float]) -> int:
    """MMLU-style choice: the index of the option with the highest log-likelihood (first on ties).

    With options scored as the letters ``A``-``D`` after ``Answer:`` this is Hendrycks et al.'s
    ``evaluate.py`` rule (argmax of the letters' next-token probabilities).
    """
    if not option_logprobs:
        raise ValueError("mmlu_choice needs the log-likelihood of at least one option")
    return max(range(len(option_logprobs)), key=lambda i: (option_logprobs[i], -i))
