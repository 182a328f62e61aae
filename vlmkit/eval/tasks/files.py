"""Reading benchmark files: JSON/JSONL/CSV with one-line errors, image paths checked up front,
and the prompt wording of the LLaVA-1.5 / VILA evaluation scripts."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

# Instructions appended to questions by LLaVA-1.5's eval files (VILA uses the same).
SHORT_ANSWER = "Answer the question using a single word or phrase."
LETTER_ANSWER = "Answer with the option's letter from the given choices directly."
LETTER_ANSWER_CN = "请直接回答选项字母。"
UNANSWERABLE = "When the provided information is insufficient, respond with 'Unanswerable'."


def existing(path: Any, what: str) -> Path:
    """``path`` as a :class:`Path`, or a one-line ``FileNotFoundError`` naming the option."""
    p = Path(os.fspath(path)).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{what}: {p} does not exist; point the task option at your local copy")
    return p


def read_json(path: Any, what: str) -> Any:
    p = existing(path, what)
    try:
        with open(p, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: {p} is not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def read_jsonl(path: Any, what: str, on_bad_line) -> Iterator[dict]:
    """Records of a JSON-lines file; a line that is not a JSON object is reported to ``on_bad_line``."""
    with open(existing(path, what), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                on_bad_line("bad_json_line")
                continue
            if isinstance(record, dict):
                yield record
            else:
                on_bad_line("bad_json_line")


def read_csv_rows(path: Any, what: str, delimiter: str = ",") -> list[list[str]]:
    csv.field_size_limit(1 << 30)  # base64 images in MMBench TSVs are large fields
    with open(existing(path, what), encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def expect_keys(data: Any, keys: Sequence[str], what: str) -> None:
    if not isinstance(data, dict) or any(k not in data for k in keys):
        have = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{what}: expected a JSON object with {', '.join(keys)}; got {have}")


class ImageFolder:
    """Resolves image file names under a folder, counting missing files through ``skip``."""

    def __init__(self, root: Any, what: str, skip) -> None:
        self.root = existing(root, what)
        self._skip = skip

    def find(self, name: str) -> str | None:
        path = self.root / name
        if path.is_file():
            return str(path)
        self._skip("missing_image")
        return None


def choices_block(options: Sequence[str], letters: Sequence[str]) -> str:
    """``"A. red\\nB. blue"``: the option layout of LLaVA-1.5's multiple-choice prompts."""
    return "\n".join(f"{letter}. {option}" for letter, option in zip(letters, options))
