"""``tokenizer``: the tokenizer's own jinja chat template, with loss spans recovered exactly.

The template is rendered once with every message's content replaced by a unique sentinel; the
sentinels are then swapped for the real content, recording where each assistant content lands.
The result must equal the plain rendering (checked), so the spans are exact. The end-of-turn
marker is the special token that directly follows the content (after optional spaces), e.g.
``<|im_end|>``, ``<|eot_id|>`` or ``</s>``.
"""

from __future__ import annotations

import re
from typing import Sequence

from vlmkit.data.tokenize.chat_templates.base import ChatBuilder, ChatTemplate, Message, RenderedChat, check_messages

_SENTINEL = "\x02vlmkit-{}\x03"


class TokenizerTemplate(ChatTemplate):
    """Wraps ``tokenizer.apply_chat_template``; raises ``ValueError`` if the tokenizer has none."""

    def __init__(self, tokenizer) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                "the tokenizer has no chat template; set model.chat_template to one of the registered "
                "templates (vicuna_v1, llama_2, llama_3, chatml)"
            )
        self.tokenizer = tokenizer
        specials = sorted({t for t in (*tokenizer.all_special_tokens, *tokenizer.get_added_vocab()) if t}, key=len, reverse=True)
        alt = "|".join(re.escape(t) for t in specials) or r"(?!)"
        self._end_of_turn = re.compile(rf"[ \t]*(?:{alt})")

    def _apply(self, messages: Sequence[Message], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = False) -> RenderedChat:
        check_messages(messages)
        plain = self._apply(messages, add_generation_prompt)
        marked = self._apply(
            [{"role": m["role"], "content": _SENTINEL.format(i)} for i, m in enumerate(messages)],
            add_generation_prompt,
        )
        for strip in (False, True):  # some templates trim content
            rendered = self._substitute(marked, messages, strip)
            if rendered is not None and rendered.text == plain:
                return rendered
        raise ValueError(
            "the tokenizer's chat template changes message content in a way vlmkit cannot map back to "
            "loss spans; set model.chat_template to a registered template (vicuna_v1, llama_2, llama_3, chatml)"
        )

    def _substitute(self, marked: str, messages: Sequence[Message], strip: bool) -> RenderedChat | None:
        out, pos = ChatBuilder(), 0
        for i, m in enumerate(messages):
            sentinel = _SENTINEL.format(i)
            at = marked.find(sentinel, pos)
            if at < 0 or marked.count(sentinel) != 1:
                return None
            out.add(marked[pos:at])
            pos = at + len(sentinel)
            content = m["content"].strip() if strip else m["content"]
            if m["role"] == "assistant":
                end = self._end_of_turn.match(marked, pos)
                tail = end.group(0) if end else ""
                out.add(content + tail, target=True)
                pos += len(tail)
            else:
                out.add(content)
        out.add(marked[pos:])
        return out.build()
