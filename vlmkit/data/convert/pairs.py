"""Image-caption pairs: LLaVA-CC3M-595K JSON, COYO/LAION jsonl or parquet, webdataset tars.

Accepted record shapes (one image, one caption):

- LLaVA-CC3M-595K: ``{"id", "image": "GCC_train_0.jpg", "conversations": [human, gpt]}`` -- the
  caption is the first gpt turn; or ``{"image", "caption"}``.
- COYO/LAION: ``{"image_path" | "url", "caption" | "text"}``; a ``url`` is looked up under the
  image root by the last component of its path (how downloaded dumps keep their files).
- webdataset: ``key.jpg`` + ``key.txt`` (or ``key.json`` with ``caption``/``text``).

Schema content: ``{"caption": str}`` with exactly one image.
"""

from __future__ import annotations

from typing import Any

from vlmkit.data.convert.fields import Draft, as_record, first_key, no_markers, nonempty_text, record_id
from vlmkit.data.convert.messages import parse_turns
from vlmkit.data.convert.sources import ImageResolver, ImageSource

CAPTION_KEYS = ("caption", "text", "conversations")
IMAGE_KEYS = ("image", "image_path", "url")


def _caption(record: dict[str, Any]) -> str:
    key = first_key(record, CAPTION_KEYS)
    if key == "conversations":
        messages = parse_turns(record[key])
        caption = next(m["content"] for m in messages if m["role"] == "assistant")
    else:
        caption = record[key]
    return no_markers(nonempty_text(caption, key), key)


def _image(record: dict[str, Any], images: ImageResolver) -> ImageSource:
    key = first_key(record, IMAGE_KEYS)
    if key == "url":
        return images.url(record[key])
    return images.source(record[key], key)


def parse(raw: Any, fallback_id: str, images: ImageResolver) -> Draft:
    record = as_record(raw)
    caption = _caption(record)
    return Draft(record_id(record, fallback_id), {"caption": caption}, [_image(record, images)])
