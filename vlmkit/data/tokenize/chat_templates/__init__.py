"""Chat templates (registry kind ``chat_templates``): conversations to one string with loss spans.

Built-ins: ``vicuna_v1``, ``llama_2``, ``llama_3``, ``chatml`` and ``tokenizer`` (the tokenizer's
own jinja template). ``get_chat_template(name, tokenizer)`` builds one by registered name.
"""

from __future__ import annotations

from vlmkit.data.tokenize.chat_templates.base import ChatBuilder, ChatTemplate, RenderedChat, TurnTemplate


def get_chat_template(name: str, tokenizer) -> ChatTemplate:
    """The registered chat template ``name`` bound to ``tokenizer``."""
    from vlmkit.registry import registries

    return registries().chat_templates.get(name)(tokenizer)


__all__ = ["ChatBuilder", "ChatTemplate", "RenderedChat", "TurnTemplate", "get_chat_template"]
