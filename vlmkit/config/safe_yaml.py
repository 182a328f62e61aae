"""Safe YAML for recipes: no objects, no duplicate keys, bounded nesting and alias expansion.

``yaml.safe_load`` constructs no objects, but it keeps the last of two equal keys without a word,
recurses until Python's stack runs out on deeply nested values, and lets a few lines of aliases
(``&a [*b, *b, ...]``) stand for billions of values that every later step then walks. The loader
here refuses all three with a :class:`yaml.YAMLError` that names the line, and understands two
tags used by ``base:`` inheritance (see ``docs/recipes.md``):

- ``!unset`` (a key's value): remove the key inherited from the base recipe, so the default applies;
- ``!replace`` (on a mapping): the mapping replaces the inherited one instead of merging into it.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 64  # levels of nested mappings/lists, aliases expanded; real recipes use under 10
MAX_VALUES = 100_000  # values after expanding aliases; a large recipe has a few hundred


class Unset:
    """The value of ``key: !unset``: the merge drops the key. Use the one instance, :data:`UNSET`."""

    def __repr__(self) -> str:
        return "!unset"

    def __deepcopy__(self, memo: dict) -> "Unset":
        return self


UNSET = Unset()


class Replace(dict):
    """A mapping tagged ``!replace``: the merge puts it in place of the inherited mapping."""


class LimitError(yaml.MarkedYAMLError):
    """A document nested too deeply or expanding to too many values."""


class RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and nesting deeper than :data:`MAX_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise LimitError(None, None, f"values are nested more than {MAX_DEPTH} levels deep; flatten the recipe",
                                 self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *base' keys are merged by flatten_mapping; explicit keys may override them
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given at line {first}); keep only one", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _construct_unset(loader: RecipeLoader, node: Node) -> Unset:
    if not (isinstance(node, yaml.ScalarNode) and node.value == ""):
        raise yaml.constructor.ConstructorError(None, None, "!unset takes no value: write 'key: !unset'", node.start_mark)
    return UNSET


def _construct_replace(loader: RecipeLoader, node: Node) -> Replace:
    if not isinstance(node, MappingNode):
        raise yaml.constructor.ConstructorError(None, None, "!replace goes on a mapping, e.g. 'projector: !replace {name: linear}'", node.start_mark)
    return Replace(loader.construct_mapping(node, deep=True))


RecipeLoader.add_constructor("!unset", _construct_unset)
RecipeLoader.add_constructor("!replace", _construct_replace)


def _expanded(node: Node, depth: int, memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """``(values, levels)`` of ``node`` with every alias expanded in place; raises past the limits.

    Linear in the document's size: a node reached through several aliases is measured once."""
    if id(node) in memo:
        values, levels = memo[id(node)]
    else:
        if depth > MAX_DEPTH:
            raise LimitError(None, None, f"values are nested more than {MAX_DEPTH} levels deep once aliases are expanded "
                             "(or an alias refers to itself); flatten the recipe", node.start_mark)
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        values, levels = 1, 1
        for child in children:
            v, lv = _expanded(child, depth + 1, memo)
            values, levels = values + v, max(levels, lv + 1)
        memo[id(node)] = (values, levels)
    if depth + levels - 1 > MAX_DEPTH:
        raise LimitError(None, None, f"values are nested more than {MAX_DEPTH} levels deep once aliases are expanded; "
                         "flatten the recipe", node.start_mark)
    if values > MAX_VALUES:
        raise LimitError(None, None, f"aliases expand to more than {MAX_VALUES:,} values (an alias bomb?); write the "
                         "values out or use fewer nested aliases", node.start_mark)
    return values, levels


def load_yaml(text: str) -> Any:
    """The single YAML document in ``text`` as Python data (``None`` when empty).

    Raises :class:`yaml.YAMLError` (with ``problem`` and ``problem_mark``) for bad syntax, a
    duplicate key, nesting deeper than :data:`MAX_DEPTH` or more than :data:`MAX_VALUES` values."""
    loader = RecipeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded(node, 1, {})
        return loader.construct_document(node)
    finally:
        loader.dispose()
