"""Text-only samples: ``{"text": str}`` -> ``<bos>text<eos>`` with loss on all of it, or
``{"messages": [...]}`` rendered like a conversation (loss on assistant turns), without images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from vlmkit.data.tokenize import conversations
from vlmkit.data.tokenize.context import RenderContext, SampleError
from vlmkit.data.tokenize.core import Rendered


@dataclass(frozen=True)
class Options:
    pass


def render(content: Mapping[str, Any], num_images: int, ctx: RenderContext, opts: Options) -> Rendered:
    if num_images:
        raise SampleError("image_marker_mismatch", f"a text sample carries no images, got {num_images}")
    if "messages" in content:
        return conversations.render(content, 0, ctx, conversations.Options())
    text = content.get("text")
    if not isinstance(text, str) or not text.strip():
        raise SampleError("no_text", "text sample has no text")
    full = ctx.bos + text + ctx.eos
    return Rendered(full, ((len(ctx.bos), len(full)),))
