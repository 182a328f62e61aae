"""The chat-template interface: messages -> one rendered string plus the character spans that carry loss.

A template renders the *whole* conversation into one string; the tokenizer then runs once over it
(with offsets), and the loss mask is derived from the spans. Turn-by-turn tokenization never
happens, so the ids and the mask cannot disagree (LLaVA's "tokenization mismatch").

Registered factories are called as ``factory(tokenizer) -> ChatTemplate`` (the tokenizer gives the
BOS/EOS strings).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Mapping, Sequence

ROLES = ("system", "user", "assistant")
Message = Mapping[str, str]


@dataclass(frozen=True)
class RenderedChat:
    """``text``: the conversation as one string; ``targets``: ``(start, end)`` character spans of
    assistant content plus its end-of-turn marker (the tokens that carry loss)."""

    text: str
    targets: tuple[tuple[int, int], ...] = ()


@dataclass
class ChatBuilder:
    """Appends text pieces; pieces added with ``target=True`` become loss spans."""

    parts: list[str] = field(default_factory=list)
    targets: list[tuple[int, int]] = field(default_factory=list)
    length: int = 0

    def add(self, text: str, target: bool = False) -> "ChatBuilder":
        if target and text:
            self.targets.append((self.length, self.length + len(text)))
        self.parts.append(text)
        self.length += len(text)
        return self

    def build(self) -> RenderedChat:
        return RenderedChat("".join(self.parts), tuple(self.targets))


def check_messages(messages: Sequence[Message]) -> None:
    """Raise ``ValueError`` for an empty conversation, an unknown role or non-string content."""
    if not messages:
        raise ValueError("empty conversation: give at least one message")
    for i, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ValueError(f"message {i}: role {role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise ValueError(f"message {i}: content must be a string, got {type(content).__name__}")


def split_system(messages: Sequence[Message], default: str | None) -> tuple[str | None, list[Message]]:
    """``(system prompt or default, remaining messages)``."""
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], list(messages[1:])
    return default, list(messages)


def bos_text(tokenizer) -> str:
    """The special tokens the tokenizer puts before a text by default (e.g. ``"<s>"``), as text."""
    with_special = tokenizer("x")["input_ids"]
    bare = tokenizer("x", add_special_tokens=False)["input_ids"]
    n = len(with_special) - len(bare)
    prefix = with_special[:n] if n > 0 and with_special[n:n + len(bare)] == bare else []
    return "".join(tokenizer.convert_ids_to_tokens(prefix))


class ChatTemplate(ABC):
    """Renders conversations (``[{"role": "system"|"user"|"assistant", "content": str}, ...]``).

    Contract: ``render(messages[:i], add_generation_prompt=True).text`` equals the text of
    ``render(messages)`` up to the start of assistant turn ``i``'s target span, so generation sees
    exactly the prompt the model was trained on.
    """

    @abstractmethod
    def render(self, messages: Sequence[Message], add_generation_prompt: bool = False) -> RenderedChat:
        """The whole conversation as one string with its loss spans."""


class TurnTemplate(ChatTemplate):
    """Templates built turn by turn with a :class:`ChatBuilder`; subclasses write ``build``."""

    def __init__(self, tokenizer) -> None:
        self.bos = bos_text(tokenizer)
        self.eos = tokenizer.eos_token or ""

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = False) -> RenderedChat:
        check_messages(messages)
        builder = ChatBuilder()
        self.build(builder, messages, add_generation_prompt)
        return builder.build()

    @abstractmethod
    def build(self, out: ChatBuilder, messages: Sequence[Message], add_generation_prompt: bool) -> None:
        """Append the conversation to ``out``; assistant content + end of turn with ``target=True``."""
