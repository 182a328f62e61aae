"""Text-only samples: ``{"text": str}`` -> ``<bos>text<eos>`` with loss on all of it, or
``{"messages": [...]}`` rendered like a conversation (loss on assistant turns), without images."""

from __future__ import annotations

from typing import Any, Mapping

from vlmkit.data.kinds.base import NoOptions, SampleKind
from vlmkit.data.kinds.conversations import Conversations
from vlmkit.data.tokenize.context import RenderContext, SampleError
from vlmkit.data.tokenize.core import Rendered


class Text(SampleKind):
    carries_images = False
    converter = "vlmkit.data.convert.text:parse"

    def render(self, content: Mapping[str, Any], num_images: int, ctx: RenderContext, opts: NoOptions) -> Rendered:
        if num_images:
            raise SampleError("image_marker_mismatch", f"a text sample carries no images, got {num_images}")
        if "messages" in content:
            return Conversations().render(content, 0, ctx, None)
        text = content.get("text")
        if not isinstance(text, str) or not text.strip():
            raise SampleError("no_text", "text sample has no text")
        full = ctx.bos + text + ctx.eos
        return Rendered(full, ((len(ctx.bos), len(full)),))
