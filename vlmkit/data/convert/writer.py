"""Writes schema samples to MDS shards (``streaming.MDSWriter``) plus ``conversion_report.json``.

``out`` is a local folder or an object-store URI Streaming can upload to (``s3://``, ...).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Iterable, Sequence

from vlmkit.data.convert.conversion_report import REPORT_FILE, ConversionReport
from vlmkit.data.schema import COLUMNS, pack_images
from vlmkit.registry import registries

DEFAULT_SIZE_LIMIT = 1 << 26  # 64 MiB per shard, Streaming's default


def is_remote(out: str) -> bool:
    return "://" in out and not out.startswith("file://")


def check_local_out(out: str) -> None:
    """Refuse an ``out`` that is, or lies under, an existing file (never replaced, even with --overwrite)."""
    path = target = os.path.abspath(out.removeprefix("file://"))
    while not os.path.exists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise ValueError(f"output {out} {'is' if path == target else 'lies under'} the file {path}; give a folder for the shards")


class ShardWriter:
    """One dataset being written; use as a context manager or call :meth:`finish` yourself."""

    def __init__(self, out: str | os.PathLike, *, compression: str | None = None, size_limit: int | str | None = DEFAULT_SIZE_LIMIT, overwrite: bool = False) -> None:
        from streaming import MDSWriter

        out = os.fspath(out)
        if not is_remote(out):
            check_local_out(out)
        self._created = not is_remote(out) and not os.path.exists(out)
        if not is_remote(out) and os.path.isdir(out) and os.listdir(out) and not overwrite:
            raise ValueError(f"output folder {out} is not empty; pick a new folder or pass --overwrite")
        try:
            self._mds = MDSWriter(columns=COLUMNS, out=out, compression=compression, size_limit=size_limit, exist_ok=overwrite)
        except FileExistsError as exc:
            raise ValueError(f"{exc}; pick a new folder or pass --overwrite") from None
        self.out = out

    def write(self, sample_id: str, kind: str, content: dict[str, Any], images: Sequence[bytes]) -> None:
        """Append one sample; ``content`` follows :mod:`vlmkit.data.schema` for ``kind``."""
        kinds = registries().sample_kinds
        if kind not in kinds:
            raise ValueError(kinds.unknown_message(kind))
        self._mds.write({"id": sample_id, "kind": kind, "content": content, "images": pack_images(images)})

    def finish(self, report: ConversionReport | None = None) -> None:
        """Write the report (uploading it with the shards for a remote ``out``) and the index."""
        if report is not None:
            with open(os.path.join(self._mds.local, REPORT_FILE), "w", encoding="utf-8") as f:
                json.dump(report.to_dict(), f, indent=2, ensure_ascii=False)
            if self._mds.remote:
                self._mds.cloud_writer.upload_file(REPORT_FILE)
        self._mds.finish()

    def abort(self) -> None:
        """Stop without writing an index: readers will refuse the half-written folder (a folder this
        writer created and left empty is removed)."""
        self._mds.cancel_future_jobs()
        if self._created and os.path.isdir(self.out) and not os.listdir(self.out):
            os.rmdir(self.out)


Sample = tuple[str, dict[str, Any], Sequence[bytes]]


def write_samples(
    out: str | os.PathLike,
    samples: Iterable[Sample],
    report: ConversionReport,
    *,
    progress: Callable[[ConversionReport], None] | None = None,
    progress_every: int = 10_000,
    **writer_options: Any,
) -> ConversionReport:
    """Write ``(id, content, images)`` samples of ``report.kind`` to ``out`` and count them in
    ``report``; the folder gets an index (and the report) only if every sample was written."""
    writer = ShardWriter(out, **writer_options)
    start = time.perf_counter()
    try:
        for sample_id, content, images in samples:
            writer.write(sample_id, report.kind, content, images)
            report.samples_written += 1
            report.images_written += len(images)
            if progress is not None and report.samples_written % progress_every == 0:
                progress(report)
    except BaseException:
        writer.abort()
        raise
    report.seconds = time.perf_counter() - start
    writer.finish(report)
    return report
