"""The conversion loop shared by every kind: read records, parse, load images (in parallel, in
order), write samples, count what was skipped and why."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

from vlmkit.data.convert.fields import Draft
from vlmkit.data.convert.readers import expand_inputs, reader_for
from vlmkit.data.convert.conversion_report import ConversionReport, SkipRecord
from vlmkit.data.convert.sources import ImageResolver, load_image
from vlmkit.data.convert.writer import DEFAULT_SIZE_LIMIT, write_samples
from vlmkit.data.images import ImageError, PreparedImage

# parse(record, fallback_id, resolver) -> Draft, raising SkipRecord for a bad record
Parser = Callable[[Any, str, ImageResolver], Draft]


def parser_for(kind: str) -> Parser:
    """The converter of the registered sample kind ``kind`` (its ``converter``)."""
    from vlmkit.registry import registries, resolve_import_string

    kinds = registries().sample_kinds
    if kind not in kinds:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(kinds.names())}")
    converter = kinds.get(kind).converter
    if converter is None:
        raise ValueError(f"sample kind {kind!r} has no converter from public formats; write its shards with vlmkit.data.convert.ShardWriter")
    return resolve_import_string(converter)


def _drafts(paths: list[Path], parse: Parser, resolver: ImageResolver, report: ConversionReport) -> Iterator[Draft]:
    """Parsed records of every input; an input without records is listed in ``report.empty_inputs``,
    and when no input has any the conversion stops (nothing to write is a mistake, not a dataset)."""
    for path in paths:
        before = report.records_read
        for fallback_id, record in reader_for(path)(path):
            report.records_read += 1
            try:
                if isinstance(record, SkipRecord):
                    raise record
                yield parse(record, fallback_id, resolver)
            except (SkipRecord, ImageError) as exc:
                report.skip(exc.reason, fallback_id, exc.detail)
        if report.records_read == before:
            report.empty_inputs.append(str(path))
    if report.records_read == 0:
        raise ValueError(f"no records in {', '.join(map(str, paths))}: the input is empty; nothing was written")


def _load_all(draft: Draft, max_side: int | None = None) -> list[PreparedImage] | SkipRecord | ImageError:
    try:
        return [load_image(source, max_side) for source in draft.images]
    except (SkipRecord, ImageError) as exc:
        return exc


def _loaded(drafts: Iterator[Draft], workers: int, max_side: int | None = None) -> Iterator[tuple[Draft, Any]]:
    """``(draft, images or error)`` in input order; ``workers > 1`` reads images in threads
    (Pillow releases the GIL while decoding) with at most ``4 * workers`` drafts in flight."""
    load = partial(_load_all, max_side=max_side)
    if workers <= 1:
        for draft in drafts:
            yield draft, load(draft)
        return
    window: deque[tuple[Draft, Future]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vlmkit-convert") as pool:
        for draft in drafts:
            window.append((draft, pool.submit(load, draft)))
            if len(window) >= 4 * workers:
                first, future = window.popleft()
                yield first, future.result()
        while window:
            first, future = window.popleft()
            yield first, future.result()


def _good(loaded: Iterator[tuple[Draft, Any]], report: ConversionReport) -> Iterator[tuple[str, dict, list[bytes]]]:
    """The samples whose images all loaded (downscaled ones counted); the others are counted as skipped."""
    for draft, result in loaded:
        if isinstance(result, (SkipRecord, ImageError)):
            report.skip(result.reason, draft.id, result.detail)
        else:
            report.images_downscaled += sum(image.downscaled for image in result)
            yield draft.id, draft.content, [image.data for image in result]


def convert(
    kind: str,
    inputs: str | os.PathLike | list[str | os.PathLike],
    out: str | os.PathLike,
    *,
    image_root: str | os.PathLike | None = None,
    workers: int = 1,
    compression: str | None = None,
    size_limit: int | str | None = DEFAULT_SIZE_LIMIT,
    overwrite: bool = False,
    max_image_side: int | None = None,
    progress: Callable[[ConversionReport], None] | None = None,
) -> ConversionReport:
    """Convert ``inputs`` (files or folders) of ``kind`` to MDS shards in ``out``.

    Image names are looked up under ``image_root`` (default: the first input's folder, or the
    input itself when it is a folder). ``max_image_side``: images whose longer side exceeds it are
    downscaled to it (JPEG stays JPEG, others become PNG); smaller ones are stored unchanged. Bad
    records are skipped and counted in the returned report, which is also written to
    ``out/conversion_report.json``.
    """
    parse = parser_for(kind)
    if max_image_side is not None and (type(max_image_side) is not int or max_image_side < 1):
        raise ValueError(f"--max-image-side must be a whole number of pixels, at least 1; got {max_image_side!r}")
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    paths = expand_inputs(items)
    if image_root is None:
        first = Path(items[0]).expanduser()
        image_root = first if first.is_dir() else first.parent
    elif not Path(image_root).is_dir():
        raise FileNotFoundError(f"--image-root {image_root} is not a folder")
    report = ConversionReport(kind=kind, inputs=[str(p) for p in paths], out=os.fspath(out), max_image_side=max_image_side)
    drafts = _drafts(paths, parse, ImageResolver(image_root), report)
    return write_samples(
        out, _good(_loaded(drafts, workers, max_image_side), report), report,
        progress=progress, compression=compression, size_limit=size_limit, overwrite=overwrite,
    )
