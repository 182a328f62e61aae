"""Named datasets (registry kind ``datasets``): a name stands for a kind, a shard location, a
default weight and a ``prepare()`` that makes the shards when they are missing.

A plugin registers a *factory* that takes the dataset's own options and returns a
:class:`DatasetDefinition`; :func:`static_dataset` makes one for shards that already exist::

    registry.datasets.register("coyo_25m", static_dataset("pairs", remote="s3://bucket/coyo", weight=2.0))

A recipe names it, with options::

    datasets:
      shapes: {name: embedded_conversations, options: {scale: tiny, max_images: 1}}

:func:`resolve_dataset` turns that into a concrete :class:`~vlmkit.config.models.DatasetConfig`:
options the factory's signature names (``scale``) go to the factory; the others
(``max_images``) stay as the dataset's tokenization options, over the definition's defaults.
Keys given in the recipe (``remote``, ``local``, ``split``, ``weight``) win over the definition.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from vlmkit.config.models import DatasetConfig


@dataclass(frozen=True)
class DatasetDefinition:
    """What a dataset name stands for. ``builder`` (optional) makes the shards when missing."""

    kind: str
    remote: str | None = None
    local: str | None = None
    split: str | None = None
    weight: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    builder: Callable[[], Any] | None = None

    def prepare(self) -> None:
        """Make the shards if they are missing (a no-op for datasets that already exist)."""
        if self.builder is not None:
            self.builder()


def static_dataset(kind: str, *, remote: str | None = None, local: str | None = None, split: str | None = None,
                   weight: float = 1.0, options: Mapping[str, Any] | None = None, description: str = "") -> Callable[[], DatasetDefinition]:
    """A factory for a dataset whose shards already exist somewhere; it takes no options."""
    definition = DatasetDefinition(kind, remote, local, split, weight, dict(options or {}), description)
    DatasetConfig(kind=kind, remote=remote, local=local, split=split, weight=weight)  # fail at registration, not use

    def factory() -> DatasetDefinition:
        return definition

    factory.__doc__ = description or f"{kind} shards at {remote or local}"
    return factory


def _split_options(factory: Callable[..., Any], options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(options for the factory, options left for tokenization), by the factory's signature."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return dict(options), {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(options), {}
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    own = {k: v for k, v in options.items() if k in names}
    return own, {k: v for k, v in options.items() if k not in names}


def definition_of(cfg: DatasetConfig) -> tuple[DatasetDefinition, dict[str, Any]]:
    """The registered definition ``cfg.name`` stands for, and the options left for tokenization."""
    from vlmkit.registry import registries

    factory = registries().datasets.get(cfg.name)
    own, rest = _split_options(factory, cfg.options)
    try:
        definition = factory(**own)
    except TypeError as exc:
        raise TypeError(f"dataset {cfg.name!r}: bad options {own}: {exc}") from None
    if not isinstance(definition, DatasetDefinition):
        raise TypeError(f"dataset {cfg.name!r}: its factory returned {type(definition).__name__}, not a DatasetDefinition")
    return definition, rest


def resolve_dataset(cfg: DatasetConfig, *, prepare: bool = True) -> DatasetConfig:
    """A config with ``kind`` and ``remote``/``local`` filled in from its registered ``name``.

    ``prepare=True`` also builds the shards if the definition can (embedded data). A config
    without ``name`` is returned as it is. Raises ``LookupError`` for an unknown name,
    ``ValueError``/``TypeError`` for bad options or a ``kind`` that contradicts the definition.
    """
    if cfg.name is None:
        return cfg
    definition, rest = definition_of(cfg)
    if cfg.kind is not None and cfg.kind != definition.kind:
        raise ValueError(f"dataset {cfg.name!r} holds {definition.kind} samples, not {cfg.kind}; drop 'kind' or pick a {cfg.kind} dataset")
    if prepare:
        definition.prepare()
    return DatasetConfig(
        name=cfg.name,
        kind=definition.kind,
        remote=cfg.remote or definition.remote,
        local=cfg.local or definition.local,
        split=cfg.split or definition.split,
        weight=cfg.weight if "weight" in cfg.model_fields_set else definition.weight,
        options={**definition.options, **rest},
    )
