"""Open-ended VQA benchmarks scored by VQA accuracy: VQAv2, OKVQA, VizWiz, TextVQA; and GQA.

Prompts are LLaVA-1.5's (``<question>\\nAnswer the question using a single word or phrase.``,
the image first). Replies are post-processed as VILA's submission scripts do before the official
evaluator runs: VQAv2/OKVQA/VizWiz pass the reply through the EvalAI answer processor, then
``vqaEval.py``'s accuracy; TextVQA uses TextVQA's evaluator; GQA lowercases and strips periods.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from vlmkit.eval.metrics import evalai_answer_processor, gqa_match, gqa_normalize, vqa_accuracy
from vlmkit.eval.tasks.base import Example, Task
from vlmkit.eval.tasks.files import SHORT_ANSWER, UNANSWERABLE, ImageFolder, expect_keys, read_json


def most_common(answers: list[str]) -> str:
    return Counter(answers).most_common(1)[0][0]


class VQAv2Task(Task):
    """VQAv2 (and OKVQA, same format): ``questions`` (``OpenEnded_mscoco_*_questions.json``),
    optional ``annotations`` (``mscoco_*_annotations.json``; without it replies are written but not
    scored, as for test-dev), ``images`` (the COCO folder, e.g. ``val2014/``); file names follow
    ``image_pattern`` with ``{subtype}`` from the questions file and ``{image_id}``."""

    name = "vqav2"
    known_options = ("questions", "annotations", "images", "image_pattern")
    default_pattern = "COCO_{subtype}_{image_id:012d}.jpg"

    def examples(self) -> list[Example]:
        questions = read_json(self.option("questions"), f"{self.name} questions")
        expect_keys(questions, ["questions"], f"{self.name} questions")
        answers: dict[Any, list[str]] = {}
        best: dict[Any, str] = {}
        if self.option("annotations", None) is not None:
            ann = read_json(self.option("annotations"), f"{self.name} annotations")
            expect_keys(ann, ["annotations"], f"{self.name} annotations")
            for a in ann["annotations"]:
                answers[a["question_id"]] = [x["answer"] for x in a["answers"]]
                best[a["question_id"]] = a.get("multiple_choice_answer") or most_common(answers[a["question_id"]])
        folder = ImageFolder(self.option("images"), f"{self.name} images", self.skip)
        pattern = self.option("image_pattern", self.default_pattern)
        subtype = questions.get("data_subtype", "")
        out = []
        for q in questions["questions"]:
            if answers and q["question_id"] not in answers:
                self.skip("no_annotation")
                continue
            image = folder.find(pattern.format(subtype=subtype, image_id=q["image_id"]))
            if image is None:
                continue
            qid = q["question_id"]
            out.append(Example(qid, f"{q['question']}\n{SHORT_ANSWER}", [image], answers.get(qid), best.get(qid)))
        return out

    def parse(self, text: str, example: Example) -> str:
        return evalai_answer_processor(text)

    def score_item(self, parsed: str, example: Example) -> float | None:
        return None if example.target is None else vqa_accuracy(parsed, example.target, "vqav2")


class OKVQATask(VQAv2Task):
    """OK-VQA: the VQAv2 file format and scoring (five answers, each given twice)."""

    name = "okvqa"


class VizWizTask(VQAv2Task):
    """VizWiz-VQA: ``annotations`` (``val.json``/``test.json``: a list of ``{image, question,
    answers}``) and ``images``; LLaVA-1.5's prompt asks for 'Unanswerable' when unsure. Scored
    like VQAv2 (EvalAI-processed reply, VQA accuracy)."""

    name = "vizwiz"
    known_options = ("annotations", "images")

    def examples(self) -> list[Example]:
        records = read_json(self.option("annotations"), "vizwiz annotations")
        if not isinstance(records, list):
            raise ValueError("vizwiz annotations: expected a JSON list of {image, question, answers}")
        folder = ImageFolder(self.option("images"), "vizwiz images", self.skip)
        out = []
        for r in records:
            image = folder.find(r["image"])
            if image is None:
                continue
            answers = [a["answer"] for a in r.get("answers", [])] or None
            prompt = f"{r['question']}\n{UNANSWERABLE}\n{SHORT_ANSWER}"
            out.append(Example(r["image"], prompt, [image], answers, most_common(answers) if answers else None))
        return out


class TextVQATask(Task):
    """TextVQA: ``annotations`` (``TextVQA_0.5.1_val.json``, ``{"data": [...]}``) and ``images``
    (``train_images/``, files ``{image_id}.jpg``); scored by TextVQA's evaluator."""

    name = "textvqa"
    known_options = ("annotations", "images")

    def examples(self) -> list[Example]:
        data = read_json(self.option("annotations"), "textvqa annotations")
        expect_keys(data, ["data"], "textvqa annotations")
        folder = ImageFolder(self.option("images"), "textvqa images", self.skip)
        out = []
        for r in data["data"]:
            image = folder.find(f"{r['image_id']}.jpg")
            if image is None:
                continue
            answers = r.get("answers") or None
            out.append(Example(r["question_id"], f"{r['question']}\n{SHORT_ANSWER}", [image], answers, most_common(answers) if answers else None))
        return out

    def score_item(self, parsed: str, example: Example) -> float | None:
        return None if example.target is None else vqa_accuracy(parsed, example.target, "textvqa")


class GQATask(Task):
    """GQA: ``questions`` (e.g. ``testdev_balanced_questions.json``: ``{qid: {imageId, question,
    answer}}``) and ``images`` (``{imageId}.jpg``); exact match after GQA's normalisation."""

    name = "gqa"
    known_options = ("questions", "images")

    def examples(self) -> list[Example]:
        data = read_json(self.option("questions"), "gqa questions")
        if not isinstance(data, dict):
            raise ValueError("gqa questions: expected a JSON object {question_id: {imageId, question, answer}}")
        folder = ImageFolder(self.option("images"), "gqa images", self.skip)
        out = []
        for qid, q in data.items():
            image = folder.find(f"{q['imageId']}.jpg")
            if image is not None:
                out.append(Example(qid, f"{q['question']}\n{SHORT_ANSWER}", [image], q.get("answer"), q.get("answer")))
        return out

    def parse(self, text: str, example: Example) -> str:
        return gqa_normalize(text.strip())

    def score_item(self, parsed: str, example: Example) -> float | None:
        return None if example.target is None else float(gqa_match(parsed, example.target))
