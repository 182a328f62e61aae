"""Conversations: the chat template renders the whole conversation; loss only on assistant turns.

``<image>`` markers in the messages stand for the sample's images in order; a conversation with
images but no markers gets them prepended to its first user message (LLaVA's convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from vlmkit.data.schema import IMAGE_MARKER
from vlmkit.data.tokenize.context import RenderContext, SampleError
from vlmkit.data.tokenize.core import Rendered, marker_positions


@dataclass(frozen=True)
class Options:
    max_images: int | None = None


def with_markers(messages: Sequence[Mapping[str, Any]], num_images: int) -> list[dict[str, Any]]:
    """``messages`` with one ``<image>`` marker per image; raises ``ValueError`` on a count mismatch."""
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


def render(content: Mapping[str, Any], num_images: int, ctx: RenderContext, opts: Options) -> Rendered:
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
