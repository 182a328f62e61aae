"""Plugin registry: one typed :class:`Registry` per component kind, filled through pluggy.

Every component in vlmkit -- built-in or third party -- arrives through the hook
``vlmkit_register(registry)``. A distribution exposes it with an entry point in the ``vlmkit``
group::

    [project.entry-points.vlmkit]
    acme = "acme_vlm.plugin"

    # acme_vlm/plugin.py
    import vlmkit

    @vlmkit.hookimpl
    def vlmkit_register(registry):
        registry.projectors.register("c_abstractor", "acme_vlm.cabs:CAbstractor")

Factories may be given as ``"module:attr"`` strings so registering imports nothing heavy; they are
resolved on first :meth:`Registry.get`.

Environment: ``VLMKIT_DISABLE_PLUGINS`` is a comma-separated list of entry-point names to skip;
``*`` skips every third-party plugin (the built-ins always load).
"""

from __future__ import annotations

import difflib
import importlib
import os
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Generic, Iterator, TypeVar

import pluggy

PROJECT = "vlmkit"
ENTRY_POINT_GROUP = "vlmkit"
BUILTIN_PLUGIN = "vlmkit.builtin"
DISABLE_ENV = "VLMKIT_DISABLE_PLUGINS"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

T = TypeVar("T")

KINDS = ("vision_encoders", "projectors", "llms", "mixers", "datasets", "chat_templates", "tasks")


class RegistryError(LookupError):
    """A name that is not registered, or a factory that cannot be resolved."""


class PluginLoadError(RuntimeError):
    """A plugin that failed to import or to register; carries its distribution name."""


@dataclass(frozen=True)
class Entry:
    """One registered component: its name, factory (object or ``"module:attr"``) and origin."""

    name: str
    factory: Any
    source: str
    description: str = ""


def resolve_import_string(spec: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise RegistryError(f"bad import string {spec!r}: expected 'package.module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def closest(name: str, candidates: list[str]) -> str | None:
    """The candidate most similar to ``name``, if any is reasonably close."""
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return matches[0] if matches else None


class Registry(Generic[T]):
    """Names to factories for one kind of component (``kind`` is e.g. ``"projectors"``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._resolved: dict[str, Any] = {}
        self._source = PROJECT

    def register(self, name: str, factory: Any, *, description: str = "") -> None:
        """Add ``name``. ``factory`` is a callable or a lazy ``"module:attr"`` string.

        Registering a name twice is an error unless it comes from the same source (re-registration
        by the same plugin replaces the entry).
        """
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{self.kind}: a component name must be a non-empty string, got {name!r}")
        old = self._entries.get(name)
        if old is not None and old.source != self._source:
            raise RegistryError(
                f"{self.kind}: {name!r} is already registered by {old.source!r}; "
                f"{self._source!r} must pick another name"
            )
        self._entries[name] = Entry(name, factory, self._source, description)
        self._resolved.pop(name, None)

    def get(self, name: str) -> T:
        """The factory registered as ``name`` (imported if it was given as a string)."""
        if name not in self._entries:
            raise RegistryError(self.unknown_message(name))
        if name not in self._resolved:
            factory = self._entries[name].factory
            if isinstance(factory, str):
                try:
                    factory = resolve_import_string(factory)
                except (ImportError, AttributeError) as exc:
                    raise RegistryError(
                        f"{self.kind}: {name!r} (from {self._entries[name].source}) points at "
                        f"{self._entries[name].factory!r}, which cannot be imported: {exc}"
                    ) from exc
            self._resolved[name] = factory
        return self._resolved[name]

    def unknown_message(self, name: str) -> str:
        names = self.names()
        hint = closest(name, names)
        did_you_mean = f"; did you mean {hint!r}?" if hint else "."
        return f"unknown {self.kind[:-1].replace('_', ' ')} {name!r}{did_you_mean} Registered: {', '.join(names) or '(none)'}"

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            raise RegistryError(self.unknown_message(name))
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


class Registries:
    """The object handed to ``vlmkit_register``: one :class:`Registry` per kind."""

    def __init__(self) -> None:
        self.vision_encoders: Registry = Registry("vision_encoders")
        self.projectors: Registry = Registry("projectors")
        self.llms: Registry = Registry("llms")
        self.mixers: Registry = Registry("mixers")
        self.datasets: Registry = Registry("datasets")
        self.chat_templates: Registry = Registry("chat_templates")
        self.tasks: Registry = Registry("tasks")
        self.errors: list[PluginLoadError] = []

    def kind(self, kind: str) -> Registry:
        if kind not in KINDS:
            hint = closest(kind, list(KINDS))
            raise RegistryError(f"unknown component kind {kind!r}" + (f"; did you mean {hint!r}?" if hint else "") + f" Kinds: {', '.join(KINDS)}")
        return getattr(self, kind)

    def all(self) -> dict[str, Registry]:
        return {k: getattr(self, k) for k in KINDS}

    def _set_source(self, source: str) -> None:
        for reg in self.all().values():
            reg._source = source


class HookSpecs:
    @hookspec
    def vlmkit_register(self, registry: Registries) -> None:
        """Register components: ``registry.projectors.register("name", factory)`` and so on."""


@dataclass
class _Loaded:
    registries: Registries
    manager: pluggy.PluginManager
    plugins: dict[str, str] = field(default_factory=dict)  # entry-point name -> distribution


_lock = threading.Lock()
_state: _Loaded | None = None


def _disabled() -> set[str]:
    return {p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip()}


def _register_plugin(loaded: _Loaded, plugin: Any, name: str, source: str) -> None:
    """Register ``plugin`` with pluggy and run its ``vlmkit_register`` with ``source`` attributed.

    A plugin that raises is unregistered, its partial registrations are rolled back and the error
    is recorded; the other plugins keep working.
    """
    loaded.manager.register(plugin, name=name)
    impl = getattr(plugin, "vlmkit_register", None)
    regs = loaded.registries
    snapshot = {kind: dict(r._entries) for kind, r in regs.all().items()}
    regs._set_source(source)
    try:
        if impl is not None:
            impl(registry=regs)
    except Exception as exc:  # a broken plugin must not take the others down
        loaded.manager.unregister(plugin)
        for kind, entries in snapshot.items():
            regs.kind(kind)._entries = entries
            regs.kind(kind)._resolved.clear()
        regs.errors.append(PluginLoadError(f"plugin {name!r} from distribution {source!r} failed to register: {exc!r}"))
        return
    finally:
        regs._set_source(PROJECT)
    loaded.plugins[name] = source


def load_plugins(extra: list[Any] | None = None) -> _Loaded:
    """Build fresh registries: the built-ins, then every ``vlmkit`` entry point not disabled."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    loaded = _Loaded(Registries(), manager)
    _register_plugin(loaded, importlib.import_module(BUILTIN_PLUGIN), "builtin", PROJECT)
    disabled = _disabled()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.value == BUILTIN_PLUGIN or ep.name in disabled or "*" in disabled:
            continue
        dist = ep.dist.name if ep.dist is not None else ep.name
        try:
            plugin = ep.load()
        except Exception as exc:
            loaded.registries.errors.append(
                PluginLoadError(f"plugin {ep.name!r} from distribution {dist!r} failed to import: {exc!r}")
            )
            continue
        _register_plugin(loaded, plugin, ep.name, dist)
    for i, plugin in enumerate(extra or []):
        _register_plugin(loaded, plugin, getattr(plugin, "__name__", f"extra{i}"), getattr(plugin, "__name__", "extra"))
    return loaded


def registries() -> Registries:
    """The process-wide registries, loaded once on first use."""
    global _state
    with _lock:
        if _state is None:
            _state = load_plugins()
        return _state.registries


def loaded_plugins() -> dict[str, str]:
    """Entry-point name -> distribution of every plugin that registered."""
    registries()
    assert _state is not None
    return dict(_state.plugins)


def reset(extra: list[Any] | None = None) -> Registries:
    """Reload every plugin (tests, or after installing a plugin in a running process)."""
    global _state
    with _lock:
        _state = load_plugins(extra)
        return _state.registries


def register_plugin(plugin: Any, name: str | None = None) -> None:
    """Register an in-process plugin object (a module or class with ``vlmkit_register``)."""
    registries()
    assert _state is not None
    label = name or getattr(plugin, "__name__", repr(plugin))
    _register_plugin(_state, plugin, label, "in-process")


def build(kind: str, name: str, /, **kwargs: Any) -> Any:
    """Look up ``name`` in ``kind`` and call its factory with ``kwargs``."""
    factory: Callable[..., Any] = registries().kind(kind).get(name)
    return factory(**kwargs)
