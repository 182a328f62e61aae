"""Text-only records: ``{"text": ...}`` (plain text, FLAN-style) or ShareGPT-style
``{"conversations": [{"from", "value"}, ...]}`` / ``{"messages": [{"role", "content"}, ...]}``.

A record that names images, or whose text holds an ``<image>`` marker, is skipped: text samples
carry no images. Schema content: ``{"text": str}`` or ``{"messages": [...]}``.
"""

from __future__ import annotations

from typing import Any

from vlmkit.data.convert.conversations import image_values
from vlmkit.data.convert.fields import Draft, as_record, first_key, no_markers, nonempty_text, record_id
from vlmkit.data.convert.messages import parse_turns, place_markers
from vlmkit.data.convert.conversion_report import SkipRecord
from vlmkit.data.convert.sources import ImageResolver


def parse(raw: Any, fallback_id: str, images: ImageResolver) -> Draft:
    record = as_record(raw)
    if image_values(record):
        raise SkipRecord("unexpected_image", "text records carry no images; convert it as 'conversations'")
    key = first_key(record, ("text", "conversations", "messages"))
    if key == "text":
        content: dict[str, Any] = {"text": no_markers(nonempty_text(record[key], key), key)}
    else:
        content = {"messages": place_markers(parse_turns(record[key], key), 0)}
    return Draft(record_id(record, fallback_id), content, [])
