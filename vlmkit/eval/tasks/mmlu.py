"""MMLU (text only), scored by the log-likelihood of the answer letters, as Hendrycks et al.'s
``evaluate.py``: plain text (no chat template), ``Answer:`` then `` A``/`` B``/`` C``/`` D``;
shots come from the same subject's ``dev`` split."""

from __future__ import annotations

from vlmkit.eval.metrics import option_letters
from vlmkit.eval.tasks.base import Example, Task
from vlmkit.eval.tasks.files import choices_block, existing, read_csv_rows

SPLIT_SUFFIX = {"test": "_test.csv", "val": "_val.csv", "dev": "_dev.csv"}


class MMLUTask(Task):
    """``root`` is MMLU's ``data/`` folder (``test/<subject>_test.csv``, ``dev/<subject>_dev.csv``;
    rows ``question, A, B, C, D, answer``, no header); ``split`` (test), ``subjects`` (all)."""

    name = "mmlu"
    known_options = ("root", "split", "subjects")
    mode = "likelihood"
    chat = False

    def examples(self) -> list[Example]:
        split = self.option("split", "test")
        if split not in SPLIT_SUFFIX:
            raise ValueError(f"mmlu: split must be one of {', '.join(SPLIT_SUFFIX)}, got {split!r}")
        folder = existing(existing(self.option("root"), "mmlu root") / split, f"mmlu {split} folder")
        suffix = SPLIT_SUFFIX[split]
        wanted = self.option("subjects", None)
        wanted = set(wanted.split(",") if isinstance(wanted, str) else wanted) if wanted else None
        out = []
        for path in sorted(folder.glob(f"*{suffix}")):
            subject = path.name[: -len(suffix)]
            if wanted is not None and subject not in wanted:
                continue
            for i, row in enumerate(read_csv_rows(path, f"mmlu {subject}")):
                if len(row) != 6 or row[5].strip() not in ("A", "B", "C", "D"):
                    self.skip("bad_row")
                    continue
                out.append(self._example(subject, i, row))
        return out

    @staticmethod
    def _example(subject: str, i: int, row: list[str]) -> Example:
        letters = option_letters(4)
        prompt = f"{row[0]}\n{choices_block(row[1:5], letters)}\nAnswer:"
        answer = row[5].strip()
        meta = {"subject": subject, "shot_group": subject}
        return Example(f"{subject}/{i}", prompt, [], letters.index(answer), f" {answer}", [f" {c}" for c in letters], meta)

    def support(self) -> list[Example]:
        if self.support_options is None:
            self.support_options = {"split": "dev"}
        return super().support()

    def preamble(self, example: Example) -> str:
        subject = example.meta["subject"].replace("_", " ")
        return f"The following are multiple choice questions (with answers) about {subject}.\n\n"

    def parse(self, text: str, example: Example) -> int:
        return example.options.index(text)

    def score_item(self, parsed: int, example: Example) -> float:
        return float(parsed == example.target)
