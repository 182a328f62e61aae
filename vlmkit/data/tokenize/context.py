"""What every sample-kind renderer needs: the tokenizer's BOS/EOS text, the chat template, and
strict parsing of per-dataset options."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, TypeVar

from vlmkit.data.tokenize.chat_templates.base import ChatTemplate

T = TypeVar("T")


class SampleError(ValueError):
    """A sample that cannot be tokenized; ``reason`` is a short label for skip counts."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RenderContext:
    """``bos``/``eos``: text of the tokenizer's start and end tokens; ``template()``: the chat template."""

    bos: str
    eos: str
    template: Callable[[], ChatTemplate]


def parse_options(cls: type[T], kind: str, options: Mapping[str, Any] | None) -> T:
    """``cls(**options)``, or ``ValueError`` naming unknown keys and the allowed ones."""
    options = dict(options or {})
    allowed = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {kind} option(s) {', '.join(unknown)}; allowed: {', '.join(allowed) or 'none'}")
    return cls(**options)
