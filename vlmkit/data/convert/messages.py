"""Conversation turns (LLaVA/ShareGPT ``{from, value}`` or OpenAI ``{role, content}``) to schema messages."""

from __future__ import annotations

from typing import Any

from vlmkit.data.convert.fields import as_record, first_key, listing, text
from vlmkit.data.convert.conversion_report import SkipRecord
from vlmkit.data.schema import IMAGE_MARKER

ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "system": "system",
}


def parse_turns(turns: Any, name: str = "conversations") -> list[dict[str, str]]:
    """``[{"role": "user"|"assistant"|"system", "content": str}, ...]``; at least one assistant turn."""
    turns = listing(turns, name)
    if not turns:
        raise SkipRecord("empty_conversation", f"{name} has no turns")
    messages = []
    for i, turn in enumerate(turns):
        turn = as_record(turn)
        speaker = turn[first_key(turn, ("from", "role"))]
        role = ROLES.get(speaker) if isinstance(speaker, str) else None
        if role is None:
            raise SkipRecord("bad_role", f"{name}[{i}] speaker {speaker!r:.40} is not one of {', '.join(ROLES)}")
        content = text(turn[first_key(turn, ("value", "content"))], f"{name}[{i}].value")
        messages.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" for m in messages):
        raise SkipRecord("no_assistant_turn", f"{name} has no gpt/assistant turn")
    return messages


def marker_count(messages: list[dict[str, str]]) -> int:
    return sum(m["content"].count(IMAGE_MARKER) for m in messages)


def place_markers(messages: list[dict[str, str]], num_images: int) -> list[dict[str, str]]:
    """Check that the ``<image>`` markers match ``num_images``.

    As LLaVA does, a single image with no marker gets ``"<image>\\n"`` prepended to the first user
    turn. Any other difference is ``marker_mismatch``.
    """
    found = marker_count(messages)
    if found == num_images:
        return messages
    if num_images == 1 and found == 0:
        first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), 0)
        out = [dict(m) for m in messages]
        out[first_user]["content"] = f"{IMAGE_MARKER}\n{out[first_user]['content']}"
        return out
    raise SkipRecord("marker_mismatch", f"{found} {IMAGE_MARKER} markers for {num_images} images")
