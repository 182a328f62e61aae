"""VQA accuracy as the official evaluators compute it.

Two references are reproduced, quirks included:

- ``variant="vqav2"``: ``vqaEval.py`` of the VQA API (GT-Vision-Lab/VQA, commit a013f00
  "Fixed processing answers bug"), the code behind the VQAv2/OKVQA/VizWiz servers. Newlines and
  tabs become spaces and ends are stripped; *only when the ground-truth answers are not all
  identical* are the prediction and the answers run through punctuation removal and
  digit/article/contraction normalisation (so with ten identical answers ``"Yes"`` does not
  match ``"yes"``). Accuracy is the mean over the leave-one-out subsets (by position) of
  ``min(#matches / 3, 1)``.
- ``variant="textvqa"``: TextVQA's ``TextVQAAccuracyEvaluator`` (m4c_evaluator.py, as shipped
  in LLaVA-1.5 and VILA): :func:`evalai_answer_processor` is applied to the prediction and to
  every answer, always, then the same leave-one-out average.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

# Contractions, written with their apostrophes. The lookup maps each spelling with exactly one
# apostrophe missing to the full form ("couldnt've" and "couldn'tve" -> "couldn't've").
_CONTRACTED = (
    "ain't aren't can't could've couldn't couldn't've didn't doesn't don't hadn't hadn't've "
    "hasn't haven't he'd he'd've he's how'd how'll how's I'd've I'm I've isn't it'd it'd've "
    "it'll ma'am mightn't mightn't've might've mustn't must've needn't not've o'clock oughtn't "
    "'ow's'at shan't she'd've should've shouldn't shouldn't've somebody'd've somebody'll "
    "somebody's someone'd someone'd've someone'll someone's something'd something'd've "
    "something'll that's there'd there'd've there're there's they'd they'd've they'll they're "
    "they've 'twas wasn't we'd've we've weren't what'll what're what's what've when's where'd "
    "where's where've who'd who'd've who'll who's who've why'll why're why's won't would've "
    "wouldn't wouldn't've y'all y'all'll y'all'd've you'd you'd've you'll you're you've"
)
# Entries of the reference table that do not follow the rule (one maps backwards).
_CONTRACTION_QUIRKS = {"let's": "let's", "she's": "she's", "somebody'd": "somebodyd"}


def _contraction_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for full in _CONTRACTED.split():
        for i, ch in enumerate(full):
            if ch == "'":
                table[full[:i] + full[i + 1 :]] = full
    table.update(_CONTRACTION_QUIRKS)
    return table


CONTRACTIONS = _contraction_table()
NUMBER_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
NUMBER_WORDS["none"] = "0"
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
# The reference pattern "(?!<=\d)(\.)(?!\d)" has a lookahead where a lookbehind was meant: it
# removes every period not followed by a digit. It is called with count=re.UNICODE (32), so at
# most 32 periods go.
_PERIOD = re.compile(r"\.(?!\d)")
_PERIOD_COUNT = 32
_VQA_COMMA = re.compile(r"(\d)(,)(\d)")
_EVALAI_COMMA = re.compile(r"(?<=\d)(,)+(?=\d)")


def _strip_punctuation(text: str, comma: re.Pattern) -> str:
    """``processPunctuation``: a mark next to a space (or any text with a digit,digit) is deleted,
    otherwise replaced by a space; the conditions look at the input, the edits at the output."""
    out = text
    drop = comma.search(text) is not None
    for p in PUNCTUATION:
        if drop or (p + " " in text or " " + p in text):
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD.sub("", out, count=_PERIOD_COUNT)


def _digits_articles(text: str) -> str:
    """``processDigitArticle``: lowercase, number words to digits, drop articles, fix contractions."""
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    return " ".join(CONTRACTIONS.get(w, w) for w in words if w not in ARTICLES)


def _one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def vqa_normalize(text: str) -> str:
    """The VQA API's answer normalisation (punctuation, then digits/articles/contractions)."""
    return _digits_articles(_strip_punctuation(text, _VQA_COMMA))


def evalai_answer_processor(text: str) -> str:
    """EvalAI's answer processor (``EvalAIAnswerProcessor`` in TextVQA's m4c_evaluator.py).

    Lowercase; delete ``,`` and ``?``; split ``'s`` off (``"man's"`` -> ``"man 's"``); newlines and
    tabs to spaces; then the VQA punctuation and digit/article/contraction rules.
    """
    text = text.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    text = _one_line(text)
    return _digits_articles(_strip_punctuation(text, _EVALAI_COMMA))


def leave_one_out_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """Mean over each answer left out (by position) of ``min(matches among the rest / 3, 1)``."""
    if not answers:
        raise ValueError("VQA accuracy needs at least one ground-truth answer; got an empty list")
    hits = [a == prediction for a in answers]
    total = sum(hits)
    return sum(min(1.0, (total - h) / 3) for h in hits) / len(hits)


def _vqav2(prediction: str, answers: Sequence[str]) -> float:
    pred = _one_line(prediction)
    gts = [_one_line(a) for a in answers]
    if len(set(gts)) > 1:
        gts = [vqa_normalize(a) for a in gts]
        pred = vqa_normalize(pred)
    return leave_one_out_accuracy(pred, gts)


def _textvqa(prediction: str, answers: Sequence[str]) -> float:
    return leave_one_out_accuracy(evalai_answer_processor(prediction), [evalai_answer_processor(a) for a in answers])


VARIANTS: dict[str, Callable[[str, Sequence[str]], float]] = {"vqav2": _vqav2, "textvqa": _textvqa}


def vqa_accuracy(prediction: str, answers: Sequence[str], variant: str = "vqav2") -> float:
    """Soft VQA accuracy in ``[0, 1]`` of one prediction against its (usually ten) human answers.

    ``variant``: ``"vqav2"`` (the VQA API's ``vqaEval.py``) or ``"textvqa"`` (TextVQA's
    evaluator); see the module docstring for the exact rules each reproduces.
    """
    rule = VARIANTS.get(variant)
    if rule is None:
        raise ValueError(f"unknown VQA accuracy variant {variant!r}; use one of: {', '.join(VARIANTS)}")
    return rule(prediction, list(answers))
