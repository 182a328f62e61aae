"""One build protocol: how every component factory is called, whoever builds it.

``build_vlm``, ``vlmkit check``'s meta-device build, export reloading and the conformance kit all
build a component with :func:`build_component` (or :func:`call_factory`) and a
:class:`BuildContext`: whether to load weights, the device to build on, and the shapes of the
parts built before it. How a kind's factories take the context is declared once, in
:data:`PROTOCOLS`, so no caller knows which kind needs what:

===============  =====================================================================
kind             factory is called as
===============  =====================================================================
vision encoder   ``factory(load_weights=, **options)``
LLM              ``factory(load_weights=, **options)``
projector        ``factory(in_dim=, out_dim=, num_input_tokens=, grid=, **options)``
any other kind   ``factory(**options)``
===============  =====================================================================

A factory that names a ``build_context`` parameter also gets the whole context. The factory runs
under ``torch.device(context.device)`` when a device is set (``"meta"``: shapes only, no memory).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    import torch

#: The keyword parameter through which a factory asks for the whole :class:`BuildContext`.
CONTEXT_PARAMETER = "build_context"

#: VLM part -> its registry kind, in build order (each part sees the shapes of those before it).
PART_KINDS = {"vision_encoder": "vision_encoders", "llm": "llms", "projector": "projectors"}


@dataclass(frozen=True)
class BuildContext:
    """What a component is built in.

    ``load_weights``: read pretrained weights (``False``: the architecture only, no file read);
    ``device``: where to build (``None``: torch's default). The shapes of the parts built before
    (``None`` until built): the vision encoder gives ``[N, vision_tokens, vision_hidden_size]``
    laid out as ``vision_grid`` (``(rows, cols)`` or ``None``), the LLM embeds to ``llm_hidden_size``.
    """

    load_weights: bool = True
    device: "str | torch.device | None" = None
    vision_hidden_size: int | None = None
    vision_tokens: int | None = None
    vision_grid: tuple[int, int] | None = None
    llm_hidden_size: int | None = None
    #: Shape fields that were filled (a ``None`` grid is a shape too), so a missing one is named.
    known: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def after(self, kind: str, part: Any) -> BuildContext:
        """This context plus the shapes ``part``, just built in ``kind``, gives the parts after it."""
        return self._with({f: getattr(part, attr) for f, attr in protocol(kind).provides.items()})

    @classmethod
    def from_arguments(cls, kind: str, arguments: Mapping[str, Any], **fields: Any) -> BuildContext:
        """The context in which ``kind``'s factory is called with ``arguments`` (the inverse of
        :meth:`KindProtocol.arguments_for`); ``fields`` set the rest (e.g. ``load_weights``)."""
        names = protocol(kind).arguments
        return cls(**fields)._with({names[a]: v for a, v in arguments.items()})

    def _with(self, values: Mapping[str, Any]) -> BuildContext:
        values = {f: tuple(v) if isinstance(v, list) else v for f, v in values.items()}  # grids from JSON
        return dataclasses.replace(self, **values, known=self.known | (set(values) & SHAPE_FIELDS))


@dataclass(frozen=True)
class KindProtocol:
    """How one kind's factories take a :class:`BuildContext`.

    ``arguments``: factory keyword -> the context field it is given; ``provides``: context field ->
    the attribute of a built part that fills it for the parts built after it.
    """

    arguments: Mapping[str, str] = field(default_factory=dict)
    provides: Mapping[str, str] = field(default_factory=dict)

    def arguments_for(self, kind: str, context: BuildContext) -> dict[str, Any]:
        missing = [f for f in self.arguments.values() if f in SHAPE_FIELDS and f not in context.known]
        if missing:
            raise ValueError(f"a {kind[:-1].replace('_', ' ')} is built after the parts giving {', '.join(missing)}; "
                             "pass BuildContext.after(kind, part) of each")
        return {a: getattr(context, f) for a, f in self.arguments.items()}


_WEIGHTS = {"load_weights": "load_weights"}
PROTOCOLS: dict[str, KindProtocol] = {
    "vision_encoders": KindProtocol(
        _WEIGHTS, {"vision_hidden_size": "hidden_size", "vision_tokens": "num_tokens", "vision_grid": "grid"}),
    "llms": KindProtocol(_WEIGHTS, {"llm_hidden_size": "hidden_size"}),
    "projectors": KindProtocol(
        {"in_dim": "vision_hidden_size", "out_dim": "llm_hidden_size", "num_input_tokens": "vision_tokens", "grid": "vision_grid"}),
}
SHAPE_FIELDS = frozenset(f for p in PROTOCOLS.values() for f in p.provides)
#: Keywords the build supplies, never a recipe option.
RESERVED_OPTIONS = frozenset({CONTEXT_PARAMETER, *(a for p in PROTOCOLS.values() for a in p.arguments)})


def protocol(kind: str) -> KindProtocol:
    return PROTOCOLS.get(kind, KindProtocol())


def shape_arguments(kind: str, context: BuildContext) -> dict[str, Any]:
    """The arguments ``kind``'s factory takes from upstream shapes (what an export records)."""
    fields = protocol(kind).arguments
    return {a: v for a, v in protocol(kind).arguments_for(kind, context).items() if fields[a] in SHAPE_FIELDS}


def takes_context(factory: Callable[..., Any]) -> bool:
    try:
        return CONTEXT_PARAMETER in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False


def call_factory(kind: str, factory: Callable[..., Any], options: Mapping[str, Any], context: BuildContext) -> Any:
    """``factory(**kind's arguments from context, **options)`` under ``context.device``."""
    import torch

    arguments = protocol(kind).arguments_for(kind, context)
    if takes_context(factory):
        arguments[CONTEXT_PARAMETER] = context
    with torch.device(context.device) if context.device is not None else contextlib.nullcontext():
        return factory(**arguments, **options)


def build_component(kind: str, spec: Any, context: BuildContext) -> Any:
    """Build the registered component ``spec`` of ``kind`` in ``context``; ``spec`` is a recipe's
    component entry (``ComponentConfig``) or a dict ``{"name": registered_name, **options}``."""
    from vlmkit.registry import registries

    if isinstance(spec, Mapping):
        name, options = spec["name"], {k: v for k, v in spec.items() if k != "name"}
    else:
        name, options = spec.name, spec.options()
    return call_factory(kind, registries().kind(kind).get(name), options, context)


def build_parts(specs: Mapping[str, Any], context: BuildContext) -> dict[str, Any]:
    """``{part: module}`` of a VLM from ``{part: spec}``, built in :data:`PART_KINDS` order."""
    parts: dict[str, Any] = {}
    for part, kind in PART_KINDS.items():
        parts[part] = build_component(kind, specs[part], context)
        context = context.after(kind, parts[part])
    return parts
