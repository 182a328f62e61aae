"""Input files to raw records, chosen by file suffix.

Each reader yields ``(fallback_id, record)`` pairs where ``record`` is the decoded JSON value (or
a :class:`SkipRecord` for an unreadable line), so one bad line never stops the file:

- ``.json``: a JSON array of records, decoded one record at a time, so an array that breaks off
  (a truncated download) keeps every complete record before the cut and reports the cut as one
  ``truncated_json`` record; one JSON object is one record; JSONL content is read as ``.jsonl``;
- ``.jsonl``: one JSON value per line, blank lines ignored;
- ``.parquet``: one record per row (needs ``pyarrow``);
- ``.tar``: webdataset samples -- members grouped by key (the name up to the first dot of the
  basename); the image (``jpg``/``jpeg``/``png``/``webp``) becomes ``image`` bytes, a ``txt``
  member ``caption`` and a ``json`` member's fields are merged in. Other members are never read,
  and a member declaring more than ``MAX_BYTES`` is refused from its header (``member_too_large``).
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any, Callable, Iterator

from vlmkit.data.convert.jsonfiles import json_line, read_json, read_jsonl
from vlmkit.data.convert.conversion_report import SkipRecord
from vlmkit.data.images import MAX_BYTES

Records = Iterator[tuple[str, Any]]
WDS_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
WDS_FIELDS = (*WDS_IMAGE_EXTS, "txt", "json")  # the only members that are read


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


def _wds_record(key: str, files: dict[str, bytes | SkipRecord]) -> Any:
    refused = next((v for v in files.values() if isinstance(v, SkipRecord)), None)
    if refused is not None:
        return refused
    record: dict[str, Any] = {"id": key}
    if "json" in files:
        meta = json_line(files["json"], f"{key}.json")
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
                if ext not in WDS_FIELDS:
                    continue
                if member.size > MAX_BYTES:  # checked before reading: a sparse member expands in memory
                    files[ext] = SkipRecord("member_too_large", f"{member.name} declares {member.size} bytes, over {MAX_BYTES}")
                    continue
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
