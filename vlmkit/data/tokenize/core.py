"""Shared tokenization: one rendered string + loss spans -> ids, labels and expanded image runs.

The text is tokenized once (per stretch between ``<image>`` markers, where a special token would
split it anyway) with character offsets; a token carries loss when its characters overlap a loss
span. Each kept ``<image>`` marker becomes a run of ``num_image_tokens`` copies of ``image_token_id``
(the batch contract of :mod:`vlmkit.model.splice`), labelled ``-100``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from vlmkit.data.schema import IMAGE_MARKER
from vlmkit.data.tokenize.context import SampleError
from vlmkit.data.tokenize.pieces import PieceTokenizer
from vlmkit.model.splice import IGNORE_INDEX

Span = tuple[int, int]


@dataclass(frozen=True)
class Rendered:
    """A sample as text: ``targets`` are loss spans; ``image_order[i]`` is the index (into the
    sample's images) of the image behind the ``i``-th ``<image>`` marker in ``text``."""

    text: str
    targets: tuple[Span, ...] = ()
    image_order: tuple[int, ...] = field(default_factory=tuple)


def marker_positions(text: str) -> list[int]:
    """Character positions of every ``<image>`` marker in ``text``."""
    out, at = [], text.find(IMAGE_MARKER)
    while at >= 0:
        out.append(at)
        at = text.find(IMAGE_MARKER, at + len(IMAGE_MARKER))
    return out


def with_markers(messages: Sequence[Mapping[str, Any]], num_images: int) -> list[dict[str, Any]]:
    """``messages`` with one ``<image>`` marker per image: prepended to the first user message when
    there are none (LLaVA's convention); :class:`SampleError` on a count mismatch."""
    messages = [dict(m) for m in messages]
    found = sum(len(marker_positions(m.get("content") or "")) for m in messages if isinstance(m.get("content"), str))
    if found == 0 and num_images:
        first_user = next((m for m in messages if m.get("role") == "user"), None)
        if first_user is None:
            raise SampleError("image_marker_mismatch", f"{num_images} image(s) but no user message to attach them to")
        first_user["content"] = (IMAGE_MARKER + "\n") * num_images + str(first_user.get("content", ""))
    elif found != num_images:
        raise SampleError("image_marker_mismatch", f"{found} <image> marker(s) in the messages but {num_images} image(s)")
    return messages


def drop_markers(rendered: Rendered, keep: int) -> Rendered:
    """Remove every ``<image>`` marker after the first ``keep`` (text kept), shifting the spans."""
    positions = marker_positions(rendered.text)[keep:]
    if not positions:
        return rendered
    n = len(IMAGE_MARKER)
    removed = np.zeros(len(rendered.text), dtype=np.int64)
    for p in positions:
        removed[p : p + n] = 1
    new_index = np.arange(len(rendered.text) + 1) - np.concatenate(([0], np.cumsum(removed)))
    pieces, prev = [], 0
    for p in positions:
        pieces.append(rendered.text[prev:p])
        prev = p + n
    pieces.append(rendered.text[prev:])
    spans = ((int(new_index[s]), int(new_index[e])) for s, e in rendered.targets)
    targets = tuple((s, e) for s, e in spans if e > s)
    return Rendered("".join(pieces), targets, rendered.image_order[:keep])


def tokenize_rendered(
    tokenizer, rendered: Rendered, *, image_token_id: int, num_image_tokens: int, pieces: PieceTokenizer | None = None
) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` for ``rendered``; every marker becomes an image run.

    Needs a fast tokenizer (character offsets); ``pieces``: a (caching) :class:`PieceTokenizer`
    for it, else an uncached one is used.
    """
    text = rendered.text
    texts, bases, prev = [], [], 0
    for p in marker_positions(text):
        texts.append(text[prev:p])
        bases.append(prev)
        prev = p + len(IMAGE_MARKER)
    texts.append(text[prev:])
    bases.append(prev)
    loss_chars = np.zeros(len(text) + 1, dtype=np.int32)
    for s, e in rendered.targets:
        loss_chars[s:e] = 1
    cumulative = np.concatenate(([0], np.cumsum(loss_chars)))
    encoded = (pieces or PieceTokenizer(tokenizer, cache_size=0))(texts)
    ids: list[int] = []
    labels: list[int] = []
    run = [image_token_id] * num_image_tokens
    ignore_run = [IGNORE_INDEX] * num_image_tokens
    for j, (piece_ids, offsets) in enumerate(encoded):
        if j:
            ids.extend(run)
            labels.extend(ignore_run)
        if not piece_ids:
            continue
        off = offsets + bases[j]
        start, end = off[:, 0], np.maximum(off[:, 1], off[:, 0] + 1)  # empty offsets: the char at start
        hit = cumulative[end] - cumulative[start] > 0
        ids.extend(piece_ids)
        labels.extend(np.where(hit, np.asarray(piece_ids), IGNORE_INDEX).tolist())
    return ids, labels


def image_runs(input_ids: Sequence[int], image_token_id: int, num_image_tokens: int) -> list[int]:
    """Start index of every image run (consecutive placeholders split into runs of ``num_image_tokens``)."""
    starts, i, n = [], 0, len(input_ids)
    while i < n:
        if input_ids[i] == image_token_id:
            starts.append(i)
            i += num_image_tokens
        else:
            i += 1
    return starts


def truncate(sample: dict[str, Any], max_len: int, image_token_id: int, num_image_tokens: int) -> dict[str, Any]:
    """Cut ``sample`` to ``max_len`` tokens; an image run that would be cut is dropped whole, with
    its image and everything after it."""
    ids = sample["input_ids"]
    if len(ids) <= max_len:
        return sample
    cut, kept = max_len, 0
    for start in image_runs(ids, image_token_id, num_image_tokens):
        if start + num_image_tokens > max_len:
            cut = min(cut, start)
            break
        kept += 1
    return {**sample, "input_ids": ids[:cut], "labels": sample["labels"][:cut], "images": list(sample["images"][:kept])}
