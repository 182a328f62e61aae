"""Conversations: the chat template renders the whole conversation; loss only on assistant turns.

``<image>`` markers in the messages stand for the sample's images in order; a conversation with
images but no markers gets them prepended to its first user message (LLaVA's convention, see
:func:`vlmkit.data.tokenize.core.with_markers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from vlmkit.data.kinds.base import SampleKind
from vlmkit.data.tokenize.context import RenderContext, SampleError
from vlmkit.data.tokenize.core import Rendered, with_markers


@dataclass(frozen=True)
class Options:
    max_images: int | None = None


class Conversations(SampleKind):
    Options = Options
    converter = "vlmkit.data.convert.conversations:parse"

    def render(self, content: Mapping[str, Any], num_images: int, ctx: RenderContext, opts: Options | None) -> Rendered:
        messages = content.get("messages")
        if not isinstance(messages, list) or not messages:
            raise SampleError("empty_conversation", "conversation has no messages")
        try:
            chat = ctx.template().render(with_markers(messages, num_images))
        except SampleError:
            raise
        except ValueError as exc:  # bad roles or contents, from the chat template
            raise SampleError("bad_messages", str(exc)) from None
        if not chat.targets:
            raise SampleError("no_assistant_turn", "conversation has no assistant turn to learn from")
        return Rendered(chat.text, chat.targets, tuple(range(num_images)))
