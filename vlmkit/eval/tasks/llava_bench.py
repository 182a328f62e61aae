"""LLaVA-Bench (in-the-wild), scored by a judge as LLaVA's ``eval_gpt_review_bench.py`` and
``summarize_gpt_review.py`` do.

Files (the ``liuhaotian/llava-bench-in-the-wild`` layout): ``questions`` (``questions.jsonl``:
``question_id``, ``image``, ``text``, ``category``), ``answers`` (``answers_gpt4.jsonl``: the
reference answers, ``question_id``, ``text``), ``context`` (``context.jsonl``: ``image``,
``caption``), ``images`` (the folder).

The judge sees the caption, the question, the reference answer as Assistant 1 and the model's as
Assistant 2, and rates both from 1 to 10 on its first line (system prompt below, temperature 0.2,
1024 tokens; LLaVA used gpt-4-0314). Scores per category (``conv``, ``detail``, ``complex``) and
overall: ``relative_score`` = 100 x mean(model) / mean(reference), plus both means x 10.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from vlmkit.eval.tasks.base import Example, Prediction
from vlmkit.eval.tasks.files import ImageFolder, read_jsonl
from vlmkit.eval.tasks.judged import JudgedTask

SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
RULE = (
    "We would like to request your feedback on the performance of two AI assistants in response to the user question "
    "displayed above. The user asks the question on observing an image. For your reference, the visual content in the "
    "image is represented with a few sentences describing the image. \n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each assistant receives an "
    "overall score on a scale of 1 to 10, where a higher score indicates better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for Assistant 1 and 2, "
    "respectively. The two scores are separated by a space.\n"
    "In the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any potential bias "
    "and ensuring that the order in which the responses were presented does not affect your judgment."
)


def review_prompt(caption: str, question: str, reference: str, answer: str, role: str = "Assistant") -> str:
    """The judge's user message (``eval_gpt_review_bench.py``)."""
    return (f"[Context]\n{caption}\n\n[Question]\n{question}\n\n"
            f"[{role} 1]\n{reference}\n\n[End of {role} 1]\n\n[{role} 2]\n{answer}\n\n[End of {role} 2]\n\n[System]\n{RULE}\n\n")


def parse_review(review: str) -> tuple[float, float] | None:
    """``(reference score, model score)`` from the review's first line, by ``parse_score``: commas
    become spaces and the line split on single spaces must give exactly two numbers ("8, 9"
    therefore fails, as it does there). ``None`` where LLaVA records ``[-1, -1]``."""
    parts = review.split("\n")[0].replace(",", " ").split(" ")
    if len(parts) != 2:
        return None
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        return None


def relative_scores(rows: Sequence[tuple[str, float, float]]) -> dict[str, float]:
    """``summarize_gpt_review.py`` over ``(category, reference, model)`` rows: per category and
    ``all``, 100 x mean(model) / mean(reference) and each mean x 10."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for category, reference, model in rows:
        groups[category].append((reference, model))
        groups["all"].append((reference, model))
    out = {}
    for category, pairs in sorted(groups.items()):
        reference = sum(p[0] for p in pairs) / len(pairs)
        model = sum(p[1] for p in pairs) / len(pairs)
        prefix = "" if category == "all" else f"{category}/"
        if reference:  # a judge that gave every reference 0 leaves the ratio undefined: no value, not 0
            out[f"{prefix}relative_score"] = 100 * model / reference
        out[f"{prefix}reference_score"] = 10 * reference
        out[f"{prefix}model_score"] = 10 * model
    return out


class LLaVABenchTask(JudgedTask):
    """LLaVA-Bench (in-the-wild); see the module doc. Needs a judge (task options ``judge``, ``judge_options``)."""

    name = "llava_bench"
    known_options = ("questions", "answers", "context", "images", *JudgedTask.known_options)
    metric = "relative_score"
    max_new_tokens = 1024

    def examples(self) -> list[Example]:
        references = {r["question_id"]: r["text"] for r in read_jsonl(self.option("answers"), "llava_bench answers", self.skip)}
        captions = {r["image"]: r["caption"] for r in read_jsonl(self.option("context"), "llava_bench context", self.skip)}
        folder = ImageFolder(self.option("images"), "llava_bench images", self.skip)
        out = []
        for q in read_jsonl(self.option("questions"), "llava_bench questions", self.skip):
            if q.get("question_id") not in references or q.get("image") not in captions:
                self.skip("no_reference_answer_or_context")
                continue
            image = folder.find(q["image"])
            if image is None:
                continue
            target = {"reference": references[q["question_id"]], "caption": captions[q["image"]], "question": q["text"]}
            out.append(Example(q["question_id"], q["text"], [image], target, meta={"category": q.get("category", "")}))
        return out

    def parse(self, text: str, example: Example) -> dict[str, Any] | None:
        t = example.target
        review = self.ask(review_prompt(t["caption"], t["question"], t["reference"], text.strip()), system=SYSTEM,
                          temperature=0.2, max_tokens=1024)
        if review is None:
            return None
        scores = parse_review(review)
        if scores is None:
            self.failed("unparsable")
            return {"review": review}
        return {"reference_score": scores[0], "score": scores[1], "review": review}

    def score_item(self, parsed: dict[str, Any] | None, example: Example) -> float | None:
        return None if parsed is None or "score" not in parsed else parsed["score"]

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        rows = [(p.example.meta["category"], p.parsed["reference_score"], p.score) for p in predictions if p.score is not None]
        return {**(relative_scores(rows) if rows else {}), **self.judge_counts(predictions)}

    def item_values(self, predictions: Sequence[Prediction]) -> dict[str, dict[Any, float]]:
        """``model_score`` is a mean of items (the relative score is a ratio of two means)."""
        return {"model_score": {p.example.id: 10 * p.score for p in predictions if p.score is not None}}
