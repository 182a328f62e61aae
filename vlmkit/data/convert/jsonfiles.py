"""JSON and JSONL input files to ``(fallback_id, record)`` pairs, one record at a time.

A ``.json`` file is told apart by its first character:

- ``[``: a JSON array (LLaVA-CC3M, LLaVA-Instruct, ShareGPT), decoded element by element with
  :meth:`json.JSONDecoder.raw_decode`. Records are counted as records however the file is indented,
  and an array that breaks off (a truncated download, a damaged byte) keeps every complete record
  before the break; the break is reported as one ``truncated_json`` record saying where it is
  (line, column, byte) and how many records came before it;
- anything else that is one JSON value: that value is one record;
- JSONL content (its first line is a JSON value by itself): read as ``.jsonl``;
- otherwise the file is one ``bad_json`` record.

The text is decoded as UTF-8 with ``surrogateescape``: an invalid byte inside a string becomes a
lone surrogate, which the field checks refuse (``bad_unicode``) for that record alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from vlmkit.data.convert.conversion_report import SkipRecord

Records = Iterator[tuple[str, Any]]
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_ERRORS = (ValueError, RecursionError)  # json.JSONDecodeError is a ValueError; deep nesting recurses


def json_line(raw: bytes, where: str) -> Any:
    """One JSON value from ``raw`` bytes, or a ``bad_json`` :class:`SkipRecord` naming ``where``."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, *_ERRORS) as exc:
        return SkipRecord("bad_json", f"{where}: {type(exc).__name__}: {exc}")


def read_jsonl(path: Path) -> Records:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if raw.strip():
                yield f"{path.name}:{lineno}", json_line(raw, f"line {lineno}")


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return f"line {line}, column {column} (byte {len(text[:pos].encode('utf-8', 'surrogateescape'))})"


def _cut(path: Path, text: str, pos: int, kept: int, why: str) -> tuple[str, SkipRecord]:
    detail = (f"the JSON array breaks off at {_where(text, pos)} ({why}); "
              f"the {kept} complete records before it were kept, the rest of the file is unreadable")
    return f"{path.name}[{kept}]", SkipRecord("truncated_json", detail)


def _array(path: Path, text: str, start: int) -> Records:
    """The elements of the array opened at ``text[start]``, then its cut if it breaks off."""
    pos, kept = _skip(text, start + 1), 0
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            try:
                item, end = _DECODER.raw_decode(text, pos)
            except _ERRORS as exc:
                yield _cut(path, text, pos, kept, getattr(exc, "msg", type(exc).__name__))
                return
            yield f"{path.name}[{kept}]", item
            kept += 1
            pos = _skip(text, end)
            if text.startswith("]", pos):
                pos += 1
                break
            if not text.startswith(",", pos):
                yield _cut(path, text, pos, kept, "end of file" if pos == len(text) else "expected ',' or ']'")
                return
            pos = _skip(text, pos + 1)
    if _skip(text, pos) < len(text):
        yield f"{path.name}[{kept}]", SkipRecord("bad_json", f"{path.name}: data after the array's end at {_where(text, pos)}")


def read_json(path: Path) -> Records:
    """Records of a ``.json`` file (see the module doc); an empty file has none."""
    text = path.read_bytes().decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    start = _skip(text, 0)
    if start == len(text):
        return
    if text[start] == "[":
        yield from _array(path, text, start)
        return
    try:
        value, end = _DECODER.raw_decode(text, start)
        if _skip(text, end) == len(text):
            yield f"{path.name}[0]", value
            return
    except _ERRORS:
        pass
    first_line = text[start:].partition("\n")[0]
    if not isinstance(json_line(first_line.encode("utf-8", "surrogateescape"), ""), SkipRecord):
        yield from read_jsonl(path)
        return
    yield path.name, SkipRecord("bad_json", f"{path.name} is neither a JSON array, one JSON value nor JSONL (at {_where(text, start)})")
