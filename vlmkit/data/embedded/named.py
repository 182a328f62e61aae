"""Dataset factories for the embedded data, registered as ``embedded_<name>``.

Options: ``scale`` (``tiny``: tens of samples for tests; ``default``: the whole easy-vqa train set)
and ``seed``; ``embedded_conversations`` also takes ``turns`` (questions per sample) and ``types``
(question types kept), ``embedded_names`` ``ways`` and ``shots_per_way``. The shards
live in the cache folder and are built by ``prepare()`` when missing.
"""

from __future__ import annotations

from typing import Any

from vlmkit.data.datasets import DatasetDefinition
from vlmkit.data.embedded import DATASETS, dataset_dir, ensure, kind_of
from vlmkit.data.embedded.easyvqa import QUESTION_TYPES


def _check_int(name: str, key: str, value: Any, low: int | None = None) -> None:
    """``value`` must be an int (not a bool), at least ``low`` when given."""
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        what = "an integer" if low is None else "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"embedded_{name}: {key} must be {what}, got {value!r}")


def _definition(name: str, scale: str, seed: int, description: str, **options: Any) -> DatasetDefinition:
    _check_int(name, "seed", seed)
    path = dataset_dir(name, scale, seed, **options)
    return DatasetDefinition(
        kind=kind_of(name),
        local=str(path),
        description=description,
        builder=lambda: ensure(name, scale, seed, **options),
    )


def embedded_pairs(scale: str = "default", seed: int = 0) -> DatasetDefinition:
    """easy-vqa train images, emoji and photos with captions."""
    return _definition("pairs", scale, seed, embedded_pairs.__doc__)


def embedded_interleaved(scale: str = "default", seed: int = 0) -> DatasetDefinition:
    """Documents of 2-4 captioned pictures that refer to each other by number."""
    return _definition("interleaved", scale, seed, embedded_interleaved.__doc__)


def embedded_conversations(scale: str = "default", seed: int = 0, turns: int = 1, types: list[str] | None = None) -> DatasetDefinition:
    """easy-vqa train questions as conversations (``turns`` questions per image per sample; only
    the question ``types`` given, of color, shape, yes/no)."""
    _check_int("conversations", "turns", turns, 1)
    if types is None:
        return _definition("conversations", scale, seed, embedded_conversations.__doc__, turns=turns)
    unknown = [t for t in types if t not in QUESTION_TYPES] if isinstance(types, list) else [types]
    if unknown or not types:
        raise ValueError(f"embedded_conversations: types must be a non-empty list of {', '.join(QUESTION_TYPES)}; got {types!r}")
    chosen = [t for t in QUESTION_TYPES if t in types]
    return _definition("conversations", scale, seed, embedded_conversations.__doc__, turns=turns, types=chosen)


def embedded_names(scale: str = "default", seed: int = 0, ways: int = 2, shots_per_way: int = 1) -> DatasetDefinition:
    """In-context naming episodes over training emoji (multi-image conversations)."""
    _check_int("names", "ways", ways, 2)
    _check_int("names", "shots_per_way", shots_per_way, 1)
    return _definition("names", scale, seed, embedded_names.__doc__, ways=ways, shots_per_way=shots_per_way)


def embedded_text(scale: str = "default", seed: int = 0) -> DatasetDefinition:
    """Text-only arithmetic and word-game conversations."""
    return _definition("text", scale, seed, embedded_text.__doc__)


def embedded_vqa_test(scale: str = "default", seed: int = 0) -> DatasetDefinition:
    """easy-vqa test split: one question per conversation, the answer as the assistant turn (eval)."""
    return _definition("vqa_test", scale, seed, embedded_vqa_test.__doc__)


def embedded_emoji_test(scale: str = "default", seed: int = 0) -> DatasetDefinition:
    """Held-out emoji captioned 'an emoji of {name}' (eval)."""
    return _definition("emoji_test", scale, seed, embedded_emoji_test.__doc__)
