"""Yes/no benchmarks: POPE (object hallucination) and MME (14 perception/cognition subtasks)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from vlmkit.eval.metrics import MME_COGNITION, MME_PERCEPTION, mme_parse, mme_scores, pope_metrics, pope_parse
from vlmkit.eval.tasks.base import Example, Prediction, Task
from vlmkit.eval.tasks.files import SHORT_ANSWER, ImageFolder, existing, read_jsonl

POPE_PREFIX = "coco_pope_"


class POPETask(Task):
    """POPE: ``annotations`` is one ``coco_pope_<category>.json`` (JSON lines ``{question_id,
    image, text, label}``) or a folder of them; ``images`` is COCO ``val2014/``. Scores per
    category (accuracy, precision, recall, f1, yes_ratio) by LLaVA's ``eval_pope.py``, plus their
    mean over categories."""

    name = "pope"
    known_options = ("annotations", "images")

    def examples(self) -> list[Example]:
        source = existing(self.option("annotations"), "pope annotations")
        files = sorted(source.glob(f"{POPE_PREFIX}*.json")) if source.is_dir() else [source]
        if not files:
            raise FileNotFoundError(f"pope annotations: no {POPE_PREFIX}*.json files in {source}")
        folder = ImageFolder(self.option("images"), "pope images", self.skip)
        out = []
        for path in files:
            category = path.stem[len(POPE_PREFIX):] if path.stem.startswith(POPE_PREFIX) else path.stem
            for r in read_jsonl(path, "pope annotations", self.skip):
                image = folder.find(r["image"])
                if image is not None:
                    label = str(r["label"]).lower()
                    out.append(Example(f"{category}/{r['question_id']}", f"{r['text']}\n{SHORT_ANSWER}", [image], label, label.capitalize(), meta={"category": category}))
        return out

    def parse(self, text: str, example: Example) -> str:
        return pope_parse(text.strip())

    def score_item(self, parsed: str, example: Example) -> float:
        return float(parsed == example.target)

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        by_category: dict[str, list[Prediction]] = {}
        for p in predictions:
            by_category.setdefault(p.example.meta["category"], []).append(p)
        out: dict[str, float] = {}
        for category, preds in sorted(by_category.items()):
            m = pope_metrics([p.parsed for p in preds], [p.example.target for p in preds])
            out.update({f"{category}/{k}": float(v) for k, v in m.items() if k in ("accuracy", "precision", "recall", "f1", "yes_ratio")})
        for key in ("accuracy", "f1"):
            values = [out[f"{c}/{key}"] for c in by_category]
            if values:
                out[key] = sum(values) / len(values)
        return out


class MMETask(Task):
    """MME: ``root`` is ``MME_Benchmark_release_version/``: one folder per subtask holding either
    image + ``.txt`` pairs, or ``images/`` and ``questions_answers_YN/``; each ``.txt`` line is
    ``question<TAB>Yes|No``. Scored by MME's ``calculation.py`` (acc + acc+ per subtask)."""

    name = "mme"
    known_options = ("root",)
    extensions = (".jpg", ".png", ".jpeg")

    def examples(self) -> list[Example]:
        root = existing(self.option("root"), "mme root")
        out = []
        for category in MME_PERCEPTION + MME_COGNITION:
            folder = root / category
            if not folder.is_dir():
                self.skip("missing_category")
                continue
            split = (folder / "questions_answers_YN").is_dir()
            texts = folder / "questions_answers_YN" if split else folder
            images = folder / "images" if split else folder
            for txt in sorted(texts.glob("*.txt")):
                image = next((images / (txt.stem + e) for e in self.extensions if (images / (txt.stem + e)).is_file()), None)
                if image is None:
                    self.skip("missing_image")
                    continue
                out.extend(self._questions(category, txt, image))
        return out

    def _questions(self, category: str, txt: Path, image: Path) -> list[Example]:
        out = []
        for i, line in enumerate(txt.read_text(encoding="utf-8").splitlines()):
            parts = line.split("\t")
            if len(parts) != 2:
                if line.strip():
                    self.skip("bad_question_line")
                continue
            question, label = parts[0], parts[1].strip()
            meta = {"category": category, "image": image.name}
            out.append(Example(f"{category}/{image.name}/{i}", f"{question}\n{SHORT_ANSWER}", [str(image)], label, label, meta=meta))
        return out

    def score_item(self, parsed: str, example: Example) -> float:
        return float(mme_parse(parsed) == example.target.lower())

    def aggregate(self, predictions: Sequence[Prediction]) -> dict[str, float]:
        rows = [{**p.example.meta, "label": p.example.target, "prediction": p.text.strip()} for p in predictions]
        scores = mme_scores(rows)
        out = {f"{k}/score": v["score"] for k, v in scores["categories"].items()}
        out.update(perception=scores["perception"], cognition=scores["cognition"], total=scores["total"])
        return out
