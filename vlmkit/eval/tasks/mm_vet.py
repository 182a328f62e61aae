"""MM-Vet, scored by a judge as MM-Vet's ``mm-vet_evaluator`` does.

Files: ``annotations`` (``mm-vet.json``: ``{id: {imagename, question, answer, capability}}``),
``images`` (the folder). The judge completes a few-shot table with a correctness score from 0.0
to 1.0 (``max_tokens`` 3, temperature 0; MM-Vet used gpt-4-0613). A reply whose first word is not a
number in [0, 1] is asked again with "Predict the correctness of the answer (digit): " appended
and the temperature raised by 0.5, up to 5 tries; MM-Vet then scores 0.0, vlmkit counts the item
as a judge failure instead. ``total`` = 100 x the mean score; ``<capability>/score`` the same over
the items needing that capability (rec, ocr, know, gen, spat, math).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from vlmkit.eval.tasks.base import Example, Prediction
from vlmkit.eval.tasks.files import ImageFolder, read_json
from vlmkit.eval.tasks.judged import JudgedTask

MEME_GT = (
    "This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its "
    "name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme "
    "is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes."
)
FEW_SHOT = (
    "Compare the ground truth and prediction from AI models, to give a correctness score for the prediction. <AND> in the "
    "ground truth means it is totally right only when all elements in the ground truth are present in the prediction, and "
    "<OR> means it is totally right when any one element in the ground truth is present in the prediction. The correctness "
    "score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the "
    "last space of the correctness score.\n\n"
    "Question | Ground truth | Prediction | Correctness\n--- | --- | --- | ---\n"
    "What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0\n"
    "What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0\n"
    f"Can you explain this meme? | {MEME_GT} | The meme talks about Iceland and Greenland. It's pointing out that despite "
    "their names, Iceland is not very icy and Greenland isn't very green. | 0.4\n"
    f"Can you explain this meme? | {MEME_GT} | The meme is using humor to point out the misleading nature of Iceland's and "
    "Greenland's names. Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and "
    "snow. The text 'This is why I have trust issues' is a playful way to suggest that these contradictions can lead to "
    "distrust or confusion. The humor in this meme is derived from the unexpected contrast between the names of the "
    "countries and their actual physical characteristics. | 1.0\n"
)
RETRY_SUFFIX = "\nPredict the correctness of the answer (digit): "
TRIES = 5


def grading_prompt(question: str, answer: str, prediction: str) -> str:
    """The judge's message: the few-shot table with this item's row left open."""
    truth = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    return FEW_SHOT + "\n" + " | ".join([question, truth, prediction, ""])


def parse_correctness(reply: str) -> float | None:
    """The score in the reply's first space-separated word, if it is a number in [0, 1]."""
    try:
        score = float(reply.split(" ")[0].strip())
    except ValueError:
        return None
    return score if 0.0 <= score <= 1.0 else None


def capability_scores(rows: Sequence[tuple[Sequence[str], float]]) -> dict[str, float]:
    """``total`` and ``<capability>/score`` (x 100) over ``(capabilities, score)`` rows."""
    by_capability: dict[str, list[float]] = defaultdict(list)
    for capabilities, score in rows:
        for capability in capabilities:
            by_capability[capability].append(score)
    out = {"total": 100 * sum(s for _, s in rows) / len(rows)}
    out.update({f"{c}/score": 100 * sum(v) / len(v) for c, v in sorted(by_capability.items())})
    return out


class MMVetTask(JudgedTask):
    """MM-Vet; see the module doc. Needs a judge (task options ``judge``, ``judge_options``)."""

    name = "mm_vet"
    known_options = ("annotations", "images", *JudgedTask.known_options)
    metric = "total"
    max_new_tokens = 1024

    def examples(self) -> list[Example]:
        data = read_json(self.option("annotations"), "mm_vet annotations")
        if not isinstance(data, dict):
            raise ValueError("mm_vet annotations: expected mm-vet.json, a JSON object of {id: {imagename, question, answer, capability}}")
        folder = ImageFolder(self.option("images"), "mm_vet images", self.skip)
        out = []
        for key, item in data.items():
            if not isinstance(item, dict) or not {"imagename", "question", "answer"} <= set(item):
                self.skip("malformed_item")
                continue
            image = folder.find(item["imagename"])
            if image is not None:
                out.append(Example(key, item["question"], [image], item["answer"], meta={"capability": list(item.get("capability", []))}))
        return out

    def parse(self, text: str, example: Example) -> dict[str, Any] | None:
        prompt = grading_prompt(example.prompt, example.target, text)
        temperature = 0.0
        for attempt in range(TRIES):
            reply = self.ask(prompt if attempt == 0 else prompt + RETRY_SUFFIX, temperature=temperature, max_tokens=3)
            if reply is None:
                return None
            score = parse_correctness(reply)
            if score is not None:
                return {"score": score, "reply": reply, "tries": attempt + 1}
            temperature += 0.5
        self.failed("unparsable")
        return {"reply": reply, "tries": TRIES}

    def score_item(self, parsed: dict[str, Any] | None, example: Example) -> float | None:
        return None if parsed is None or "score" not in parsed else parsed["score"]

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        rows = [(p.example.meta["capability"], p.score) for p in predictions if p.score is not None]
        return {**(capability_scores(rows) if rows else {}), **self.judge_counts(predictions)}

    def item_values(self, predictions: Sequence[Prediction]) -> dict[str, dict[Any, float]]:
        return {"total": {p.example.id: 100 * p.score for p in predictions if p.score is not None}}
