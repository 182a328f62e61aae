"""Deprecated spelling of :mod:`vlmkit.data.tokenize.chat_templates` (chat templates moved next to
the tokenization that uses them). Importing this package, or its old submodules ``base``,
``formats`` and ``jinja``, warns and gives the very same objects; nothing in vlmkit imports it."""

import sys
import warnings

from vlmkit.data.tokenize.chat_templates import ChatBuilder, ChatTemplate, RenderedChat, TurnTemplate, get_chat_template
from vlmkit.data.tokenize.chat_templates import base, formats, jinja

warnings.warn(
    "vlmkit.model.llm.chat_templates is deprecated; import vlmkit.data.tokenize.chat_templates instead",
    DeprecationWarning, stacklevel=2,
)
for _module in (base, formats, jinja):  # the old submodule names resolve to the moved modules
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module

__all__ = ["ChatBuilder", "ChatTemplate", "RenderedChat", "TurnTemplate", "get_chat_template"]
