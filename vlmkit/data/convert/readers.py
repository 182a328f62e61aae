"""Input files to raw records, chosen by file suffix.

Each reader yields ``(fallback_id, record)`` pairs where ``record`` is the decoded JSON value (or
a :class:`SkipRecord` for an unreadable line), so one bad line never stops the file:

- ``.json``: a JSON array of records (a file that is not one valid JSON value is read as JSONL);
- ``.jsonl``: one JSON value per line, blank lines ignored;
- ``.parquet``: one record per row (needs ``pyarrow``);
- ``.tar``: webdataset samples -- members grouped by key (the name up to the first dot of the
  basename); the image (``jpg``/``jpeg``/``png``/``webp``) becomes ``image`` bytes, a ``txt``
  member ``caption`` and a ``json`` member's fields are merged in.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any, Callable, Iterator

from vlmkit.data.convert.report import SkipRecord

Records = Iterator[tuple[str, Any]]
WDS_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")


def _json_line(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return SkipRecord("bad_json", f"{where}: {type(exc).__name__}: {exc}")


def read_jsonl(path: Path) -> Records:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if raw.strip():
                yield f"{path.name}:{lineno}", _json_line(raw, f"line {lineno}")


def read_json(path: Path) -> Records:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        yield from read_jsonl(path)
        return
    items = data if isinstance(data, list) else [data]
    for i, item in enumerate(items):
        yield f"{path.name}[{i}]", item


def read_parquet(path: Path) -> Records:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(f"reading {path.name} needs pyarrow; pip install pyarrow, or convert the table to .jsonl") from None
    row = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            for record in batch.to_pylist():
                yield f"{path.name}#{row}", record
                row += 1
    except Exception as exc:  # pyarrow raises its own hierarchy for corrupt files
        yield f"{path.name}#{row}", SkipRecord("corrupt_input", f"{type(exc).__name__}: {exc}")


def _split_name(name: str) -> tuple[str, str]:
    folder, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def _wds_record(key: str, files: dict[str, bytes]) -> Any:
    record: dict[str, Any] = {"id": key}
    if "json" in files:
        meta = _json_line(files["json"], f"{key}.json")
        if isinstance(meta, SkipRecord):
            return meta
        if isinstance(meta, dict):
            record.update(meta)
    if "txt" in files:
        try:
            record["caption"] = files["txt"].decode("utf-8")
        except UnicodeDecodeError:
            return SkipRecord("bad_unicode", f"{key}.txt is not UTF-8")
    image_ext = next((e for e in WDS_IMAGE_EXTS if e in files), None)
    if image_ext is not None:
        record["image"] = files[image_ext]
    record["id"] = key
    return record


def _check_tail(tar: tarfile.TarFile, f) -> None:
    """tarfile ends quietly at a truncated header; anything but zero padding after the last member is damage."""
    f.seek(tar.offset)
    while chunk := f.read(1 << 16):
        if chunk.strip(b"\0"):
            raise tarfile.ReadError(f"damaged data after byte {tar.offset}")


def read_tar(path: Path) -> Records:
    key, files = None, {}
    try:
        with open(path, "rb") as f, tarfile.open(fileobj=f, mode="r:") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                member_key, ext = _split_name(member.name)
                if member_key != key and key is not None:
                    yield key, _wds_record(key, files)
                    files = {}
                key = member_key
                handle = tar.extractfile(member)
                files[ext] = handle.read() if handle is not None else b""
            _check_tail(tar, f)
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield (key or path.name), SkipRecord("corrupt_input", f"{path.name}: {type(exc).__name__}: {exc}")
        return
    if key is not None:
        yield key, _wds_record(key, files)


READERS: dict[str, Callable[[Path], Records]] = {
    ".json": read_json,
    ".jsonl": read_jsonl,
    ".parquet": read_parquet,
    ".tar": read_tar,
}


def reader_for(path: Path) -> Callable[[Path], Records]:
    try:
        return READERS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path}: unsupported input format {path.suffix!r}; use one of {', '.join(READERS)}") from None


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Input files in order; a folder stands for its supported files, sorted by name."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in READERS)
            if not found:
                raise FileNotFoundError(f"{p} holds no {', '.join(READERS)} files")
            paths.extend(found)
        elif p.is_file():
            reader_for(p)
            paths.append(p)
        else:
            raise FileNotFoundError(f"input {p} does not exist")
    return paths
