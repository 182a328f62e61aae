"""Judges (registry kind ``judges``): the LLM that scores free-form replies for LLaVA-Bench and MM-Vet.

Built-ins: ``openai`` (any OpenAI-compatible chat-completions endpoint over HTTP) and ``hf`` (a
local Hugging Face causal LM). ``build_judge(name, **options)`` builds one by registered name.
"""

from __future__ import annotations

from typing import Any

from vlmkit.eval.judges.base import Judge, JudgeError


def build_judge(name: str, **options: Any) -> Judge:
    """The registered judge ``name`` built with ``options``."""
    from vlmkit.registry import registries

    return registries().judges.get(name)(**options)


__all__ = ["Judge", "JudgeError", "build_judge"]
