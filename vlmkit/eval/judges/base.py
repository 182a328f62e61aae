"""The judge interface: a prompt in, the judge's reply text out, or a :class:`JudgeError` saying why not."""

from __future__ import annotations

from abc import ABC, abstractmethod


class JudgeError(RuntimeError):
    """A judge that gave no usable reply. ``reason`` names the failure, for counting:
    ``timeout``, ``rate_limited``, ``http_error``, ``connection``, ``malformed`` (not a
    chat-completions reply) or ``unparsable`` (a reply the benchmark's rule cannot read)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def kind(self) -> str:
        """Deprecated spelling of :attr:`reason` ("kind" names registry kinds and sample kinds)."""
        import warnings

        warnings.warn("JudgeError.kind is deprecated; use JudgeError.reason", DeprecationWarning, stacklevel=2)
        return self.reason


class Judge(ABC):
    """Answers one prompt: ``complete(prompt, system=..., temperature=..., max_tokens=...) -> str``.

    Implementations retry transient failures a bounded number of times and then raise
    :class:`JudgeError`; they never return an empty string in place of a failure.
    """

    @abstractmethod
    def complete(self, prompt: str, *, system: str | None = None, temperature: float = 0.0, max_tokens: int = 1024) -> str:
        """The judge's reply to ``prompt`` (after ``system``, when given)."""
