"""Sample kinds (registry kind ``sample_kinds``): what each kind of MDS sample means.

Built-ins, one module each: ``pairs``, ``interleaved``, ``conversations``, ``text``. Adding a kind
is one module with a :class:`SampleKind` subclass and one line in a plugin's hook,
``registry.sample_kinds.register("acme_video", "acme_vlm.video:Video")``; every caller (tokenizer,
loader, converter, preflight, training plan) asks the registry through :func:`sample_kind`.
"""

from __future__ import annotations

from vlmkit.data.kinds.base import NoOptions, SampleKind
from vlmkit.registry import Registries, RegistryError, registries


def sample_kind(name: str, regs: Registries | None = None) -> SampleKind:
    """The registered sample kind ``name``; ``ValueError`` listing the registered kinds when unknown."""
    try:
        return (regs or registries()).sample_kinds.get(name)()
    except RegistryError as exc:
        raise ValueError(str(exc)) from None


__all__ = ["NoOptions", "SampleKind", "sample_kind"]
