"""Multiple-choice benchmarks answered with an option letter: ScienceQA-IMG, SEED-Bench, MMBench.

Prompts follow LLaVA-1.5's eval files: optional context/hint, the question, ``A. option`` lines,
then "Answer with the option's letter from the given choices directly."
"""

from __future__ import annotations

import base64
import functools
from typing import Any, Mapping, Sequence

from vlmkit.eval.metrics import MMBENCH_RULES, mmbench_circular_accuracy, option_letters, scienceqa_parse, seed_match
from vlmkit.eval.tasks.base import Example, Prediction, Task
from vlmkit.eval.tasks.files import LETTER_ANSWER, LETTER_ANSWER_CN, ImageFolder, choices_block, existing, read_csv_rows, read_json


def letter_prompt(question: str, options: Sequence[str], instruction: str = LETTER_ANSWER, context: str = "") -> str:
    head = f"{context}\n" if context else ""
    return f"{head}{question}\n{choices_block(options, option_letters(len(options)))}\n{instruction}"


class ScienceQATask(Task):
    """ScienceQA-IMG: ``root`` holds ``problems.json``, ``pid_splits.json`` and
    ``images/<split>/<pid>/image.png``; ``split`` (default ``test``). Only problems with an image
    are kept (the IMG subset). Scored by VILA's ``eval_science_qa.py`` rule."""

    name = "scienceqa_img"
    known_options = ("root", "split")

    def examples(self) -> list[Example]:
        root = existing(self.option("root"), "scienceqa root")
        split = self.option("split", "test")
        problems = read_json(root / "problems.json", "scienceqa problems.json")
        splits = read_json(root / "pid_splits.json", "scienceqa pid_splits.json")
        if split not in splits:
            raise ValueError(f"scienceqa: split {split!r} is not in pid_splits.json; it has {', '.join(sorted(splits))}")
        folder = ImageFolder(root / "images", "scienceqa images", self.skip)
        out = []
        for pid in splits[split]:
            prob = problems.get(pid)
            if prob is None:
                self.skip("unknown_problem_id")
                continue
            if not prob.get("image"):
                continue  # not in the IMG subset
            image = folder.find(f"{split}/{pid}/{prob['image']}")
            if image is None:
                continue
            hint = (prob.get("hint") or "").strip()
            prompt = letter_prompt(prob["question"], prob["choices"], context=f"Context: {hint}" if hint else "")
            answer = option_letters(len(prob["choices"]))[prob["answer"]]
            out.append(Example(pid, prompt, [image], prob["answer"], answer, meta={"num_choices": len(prob["choices"])}))
        return out

    def parse(self, text: str, example: Example) -> int:
        return scienceqa_parse(text.strip(), example.meta["num_choices"])

    def score_item(self, parsed: int, example: Example) -> float:
        return float(parsed == example.target)


class SEEDTask(Task):
    """SEED-Bench (image part): ``annotations`` (``SEED-Bench.json``) and ``images``
    (``SEED-Bench-image/``, files named by ``data_id``). Accuracy overall and per question type."""

    name = "seed"
    known_options = ("annotations", "images")
    max_new_tokens = 8

    def examples(self) -> list[Example]:
        data = read_json(self.option("annotations"), "seed annotations")
        type_names = {v: k for k, v in data.get("question_type", {}).items()}
        folder = ImageFolder(self.option("images"), "seed images", self.skip)
        out = []
        for q in data["questions"]:
            if q.get("data_type", "image") != "image":
                continue
            image = folder.find(q["data_id"])
            if image is None:
                continue
            options = [q[f"choice_{c}"] for c in "abcd"]
            qtype = type_names.get(q.get("question_type_id"), str(q.get("question_type_id")))
            out.append(Example(q["question_id"], letter_prompt(q["question"], options), [image], q.get("answer"), q.get("answer"), meta={"type": qtype}))
        return out

    def score_item(self, parsed: str, example: Example) -> float | None:
        return None if example.target is None else float(seed_match(parsed, example.target))

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        out = super().aggregate(predictions)
        by_type: dict[str, list[float]] = {}
        for p in predictions:
            if p.score is not None:
                by_type.setdefault(p.example.meta["type"], []).append(p.score)
        out.update({f"{t}/accuracy": sum(s) / len(s) for t, s in sorted(by_type.items())})
        return out


class MMBenchTask(Task):
    """MMBench: ``annotations`` is the TSV (``index, question, hint, A..D, answer, category,
    image`` with base64 images). With ``circular`` (default) each question is asked once per
    rotation of its options, as LLaVA's ``--all-rounds``; it counts only if every rotation is right.
    ``choice_rule`` names how a reply is read (:data:`~vlmkit.eval.metrics.MMBENCH_RULES`):
    ``opencompass`` (default; the official ``tools/eval_mmbench.py``, what the paper's table used) or
    ``vlmevalkit`` (VLMEvalKit's newer ``can_infer``)."""

    name = "mmbench"
    known_options = ("annotations", "circular", "choice_rule")
    instruction = LETTER_ANSWER
    max_new_tokens = 8

    def __init__(self, support: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__(support, **options)
        rule = self.option("choice_rule", "opencompass")
        if rule not in MMBENCH_RULES:
            raise ValueError(f"task {self.name!r}: choice_rule {rule!r} is not one of {', '.join(MMBENCH_RULES)}")
        self.read_choice = MMBENCH_RULES[rule]

    def examples(self) -> list[Example]:
        rows = read_csv_rows(self.option("annotations"), f"{self.name} annotations", delimiter="\t")
        if not rows or "index" not in rows[0] or "question" not in rows[0]:
            raise ValueError(f"{self.name} annotations: expected a TSV whose header has index, question, A, B, ... and image")
        header, records = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
        images = {r["index"]: r.get("image", "") for r in records}
        letters = [c for c in "ABCDEFGHI" if c in header]
        out = []
        for r in records:
            options = [r[c] for c in letters if r.get(c, "").strip() not in ("", "nan")]
            raw = r.get("image", "").strip()
            image = images.get(raw, "") if raw.isdigit() else raw  # a number points at another row's image
            if len(options) < 2 or not image:
                self.skip("no_options_or_image")
                continue
            out.extend(self._rounds(r, options, functools.partial(base64.b64decode, image)))
        return out

    def _rounds(self, r: dict, options: list[str], image) -> list[Example]:
        hint = r.get("hint", "").strip()
        question = f"{hint}\n{r['question']}" if hint and hint != "nan" else r["question"]
        answer = r.get("answer", "").strip() or None
        rounds = len(options) if self.option("circular", True) else 1
        out = []
        for k in range(rounds):
            rotated = options[k:] + options[:k]
            letters = option_letters(len(options))
            target = letters[(letters.index(answer) - k) % len(options)] if answer in letters else None
            meta = {"group": r["index"], "choices": dict(zip(letters, rotated)), "category": r.get("category", "")}
            out.append(Example(f"{r['index']}/{k}", letter_prompt(question, rotated, self.instruction), [image], target, target, meta=meta))
        return out

    def parse(self, text: str, example: Example) -> str | None:
        return self.read_choice(text.strip(), example.meta["choices"])

    def score_item(self, parsed: str | None, example: Example) -> float | None:
        return None if example.target is None else float(parsed == example.target)

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        scored = [p for p in predictions if p.score is not None]
        if not scored:
            return {}
        rows = [{"group": p.example.meta["group"], "correct": p.score == 1.0} for p in scored]
        return {"circular_accuracy": mmbench_circular_accuracy(rows), "accuracy": sum(p.score for p in scored) / len(scored)}


class MMBenchCNTask(MMBenchTask):
    """MMBench-CN: the same TSV layout in Chinese, with the Chinese instruction."""

    name = "mmbench_cn"
    instruction = LETTER_ANSWER_CN
