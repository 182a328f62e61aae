"""LLaVA-Instruct conversations::

    {"id": "000000033471", "image": "coco/train2017/000000033471.jpg",   (or "images": [...])
     "conversations": [{"from": "human", "value": "<image>\\nWhat is ...?"},
                       {"from": "gpt", "value": "The bus is ..."}]}

human -> user, gpt -> assistant. One ``<image>`` marker per image, in order; a single image with
no marker gets one prepended to the first user turn, as LLaVA does. A record with no image is a
text-only conversation (LLaVA mixes contain them). Schema content: ``{"messages": [...]}``.
"""

from __future__ import annotations

from typing import Any

from vlmkit.data.convert.fields import Draft, as_record, first_key, listing, record_id
from vlmkit.data.convert.messages import parse_turns, place_markers
from vlmkit.data.convert.sources import ImageResolver


def image_values(record: dict[str, Any]) -> list[Any]:
    """The record's image references: ``images`` (a list), else ``image`` (one), else none."""
    if record.get("images") is not None:
        return listing(record["images"], "images")
    if record.get("image") is not None:
        return [record["image"]]
    return []


def parse(raw: Any, fallback_id: str, images: ImageResolver) -> Draft:
    record = as_record(raw)
    values = image_values(record)
    sources = [images.source(v, f"images[{i}]") for i, v in enumerate(values)]
    key = first_key(record, ("conversations", "messages"))
    messages = place_markers(parse_turns(record[key], key), len(sources))
    return Draft(record_id(record, fallback_id), {"messages": messages}, sources)
