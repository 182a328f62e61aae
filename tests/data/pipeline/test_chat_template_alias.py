"""Chat templates moved to :mod:`vlmkit.data.tokenize.chat_templates`; the old spelling
``vlmkit.model.llm.chat_templates`` (and its submodules) still works, warns, and gives the very
same classes, so a third-party template subclassing the old import keeps registering and rendering."""

from __future__ import annotations

import importlib
import sys

import pytest

from vlmkit.data.tokenize import chat_templates as moved
from vlmkit.data.tokenize.chat_templates import formats

OLD = "vlmkit.model.llm.chat_templates"


@pytest.fixture
def fresh_alias():
    """Forget any earlier import of the old spelling so importing it runs (and warns) again."""
    for name in [n for n in sys.modules if n == OLD or n.startswith(OLD + ".")]:
        del sys.modules[name]
    yield
    for name in [n for n in sys.modules if n == OLD or n.startswith(OLD + ".")]:
        del sys.modules[name]


def test_the_old_spelling_warns_and_gives_the_moved_objects(fresh_alias):
    with pytest.warns(DeprecationWarning, match="import vlmkit.data.tokenize.chat_templates instead"):
        old = importlib.import_module(OLD)
    assert old.ChatTemplate is moved.ChatTemplate and old.TurnTemplate is moved.TurnTemplate
    assert old.get_chat_template is moved.get_chat_template
    from vlmkit.model.llm.chat_templates.base import ChatTemplate
    from vlmkit.model.llm.chat_templates.formats import ChatML

    assert ChatTemplate is moved.ChatTemplate and ChatML is formats.ChatML
