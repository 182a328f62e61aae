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

Failures never take the other plugins down (see :func:`plugin_failures`): a plugin that fails to
import, whose hook raises, or whose hook is misnamed or unmarked loads nothing and is reported by
its distribution name, as a :class:`PluginWarning` and in the error of a lookup that misses. A name
registered by two distributions is given to neither (built-in names always stay vlmkit's); each
keeps its other names. The outcome does not depend on the order entry points are found in.

Entry-point loading and hook validation live in :mod:`vlmkit.plugin_loading`.

Environment: ``VLMKIT_DISABLE_PLUGINS`` is a comma-separated list of entry-point or distribution
names to skip; ``*`` skips every third-party plugin (the built-ins always load).
"""

from __future__ import annotations

import difflib
import importlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, TypeVar

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import torch
    from composer.core import Callback
    from composer.loggers import LoggerDestination

    from vlmkit.config import OptimizerConfig, SchedulerConfig
    from vlmkit.data.datasets import DatasetDefinition
    from vlmkit.data.kinds.base import SampleKind
    from vlmkit.data.mixers.base import DataMixer
    from vlmkit.data.tokenize.chat_templates.base import ChatTemplate
    from vlmkit.eval.judges.base import Judge
    from vlmkit.eval.loading import ModelSource
    from vlmkit.eval.tasks.base import Task
    from vlmkit.model.llm.base import LLMBackbone
    from vlmkit.model.projectors.base import Projector
    from vlmkit.model.vision.base import VisionEncoder
    from vlmkit.plugin_loading import Loaded

PROJECT = "vlmkit"
ENTRY_POINT_GROUP = "vlmkit"
BUILTIN_PLUGIN = "vlmkit.plugin"  # vlmkit's own plugin, laid out as a third party's plugin.py
DISABLE_ENV = "VLMKIT_DISABLE_PLUGINS"
HOOK = "vlmkit_register"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

T = TypeVar("T")

KINDS = ("vision_encoders", "projectors", "llms", "mixers", "datasets", "chat_templates", "tasks", "judges", "sample_kinds",
         "optimizers", "schedulers", "loggers", "callbacks", "export_formats", "model_sources")


# Each kind's factory type: what calling a registered factory returns. The interfaces of higher
# layers are named for type checkers only (imports under TYPE_CHECKING never run).
OptimizerFactory = Callable[[list[dict], "OptimizerConfig", str], "torch.optim.Optimizer"]  # (groups, cfg, device)
SchedulerFactory = Callable[["SchedulerConfig"], Callable[..., float]]  # a Composer scheduler: (state, ssr) -> lr factor
LoggerFactory = Callable[..., "LoggerDestination"]  # (stage_dir, **options)
CallbackFactory = Callable[..., "Callback"]  # (stage_dir, **options)
ExportWriter = Callable[..., "Path"]  # (model, model_config, out, overwrite=, source=) -> out
VisionEncoderFactory = Callable[..., "VisionEncoder"]  # (load_weights=, **options)
ProjectorFactory = Callable[..., "Projector"]  # (in_dim=, out_dim=, num_input_tokens=, grid=, **options)
LLMFactory = Callable[..., "LLMBackbone"]  # (load_weights=, **options)


class RegistryError(LookupError):
    """A name that is not registered, or a factory that cannot be resolved."""


class PluginLoadError(RuntimeError):
    """One plugin failure: ``plugin`` (entry-point name), ``distribution``, ``stage`` (``"import"``,
    ``"hook"``, ``"register"`` or ``"clash"``), ``reason`` and ``lost``, the ``(kind, name)`` pairs
    it would have provided (when known)."""

    def __init__(self, plugin: str, distribution: str, stage: str, reason: str, lost: tuple = ()) -> None:
        self.plugin, self.distribution, self.stage, self.reason, self.lost = plugin, distribution, stage, reason, tuple(lost)
        super().__init__(f"plugin {plugin!r} from distribution {distribution!r} {reason}")


class PluginWarning(UserWarning):
    """Issued once per :class:`PluginLoadError` when the plugins load."""


@dataclass(frozen=True)
class Entry:
    """One registered component: its name, factory (object or ``"module:attr"``), origin
(``source``: the distribution, ``plugin``: the entry-point name) and description."""

    name: str
    factory: Any
    source: str
    description: str = ""
    plugin: str = ""


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
        self._clashes: dict[str, dict[str, str]] = {}  # name -> {distribution: plugin} of every claimant
        self._failures: list[PluginLoadError] = []  # shared by the kinds of one Registries
        self._source = PROJECT
        self._plugin = "builtin"

    def register(self, name: str, factory: Any, *, description: str = "") -> None:
        """Add ``name``. ``factory`` is a callable or a lazy ``"module:attr"`` string.

        The same source registering a name again replaces its entry. Inside a plugin's hook, a name
        another distribution registered too is given to neither (a built-in name stays vlmkit's);
        :meth:`clash_failures` reports it. Outside a hook a taken name is an error.
        """
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{self.kind}: a component name must be a non-empty string, got {name!r}")
        old = self._entries.get(name)
        claims = self._clashes.get(name) or ({old.source: old.plugin} if old is not None else {})
        if set(claims) <= {self._source}:
            self._entries[name] = Entry(name, factory, self._source, description, self._plugin)
            self._resolved.pop(name, None)
            return
        if self._source == PROJECT:
            raise RegistryError(f"{self.kind}: {name!r} is already registered by {next(iter(claims))!r}; pick another name")
        self._clashes[name] = {**claims, self._source: self._plugin}
        if PROJECT not in claims:
            self._entries.pop(name, None)
            self._resolved.pop(name, None)

    def clash_failures(self) -> list[PluginLoadError]:
        """One failure per distribution per clashed name, sorted (independent of loading order)."""
        failures = []
        for name, claims in sorted(self._clashes.items()):
            label = f"{self.kind[:-1].replace('_', ' ')} {name!r}"
            for source, plugin in sorted(claims.items()):
                if source == PROJECT:
                    continue
                others = " and ".join(repr(c) for c in sorted(claims) if c != source)
                if PROJECT in claims:
                    reason = f"registers {label}, a built-in name, which stays vlmkit's; the plugin must rename it"
                else:
                    reason = (f"registers {label}, which {others} registers too, so none of them provides it (their "
                              f"other components load); keep one by listing the others in {DISABLE_ENV}")
                failures.append(PluginLoadError(plugin, source, "clash", reason, [(self.kind, name)]))
        return failures

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
        """Why ``name`` is not here: the plugin that lost it, or the registered names, the closest
        one and every plugin that failed to load."""
        label = self.kind[:-1].replace("_", " ")
        lost = [e for e in self._failures if (self.kind, name) in e.lost]
        if lost:
            return f"{label} {name!r} is unavailable: " + "; ".join(str(e) for e in lost)
        names = self.names()
        hint = closest(name, names)
        did_you_mean = f"; did you mean {hint!r}?" if hint else "."
        message = f"unknown {label} {name!r}{did_you_mean} Registered: {', '.join(names) or '(none)'}"
        failed = [str(e) for e in self._failures if e.stage != "clash"]
        if failed:
            message += ". Plugins that failed to load (one may provide it): " + "; ".join(failed)
        return message

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
        self.vision_encoders: Registry[VisionEncoderFactory] = Registry("vision_encoders")
        self.projectors: Registry[ProjectorFactory] = Registry("projectors")
        self.llms: Registry[LLMFactory] = Registry("llms")
        self.mixers: Registry[Callable[..., "DataMixer"]] = Registry("mixers")
        self.datasets: Registry[Callable[..., "DatasetDefinition"]] = Registry("datasets")
        self.chat_templates: Registry[Callable[..., "ChatTemplate"]] = Registry("chat_templates")
        self.tasks: Registry[Callable[..., "Task"]] = Registry("tasks")
        self.judges: Registry[Callable[..., "Judge"]] = Registry("judges")
        self.sample_kinds: Registry[Callable[[], "SampleKind"]] = Registry("sample_kinds")
        self.optimizers: Registry[OptimizerFactory] = Registry("optimizers")
        self.schedulers: Registry[SchedulerFactory] = Registry("schedulers")
        self.loggers: Registry[LoggerFactory] = Registry("loggers")
        self.callbacks: Registry[CallbackFactory] = Registry("callbacks")
        self.export_formats: Registry[ExportWriter] = Registry("export_formats")
        self.model_sources: Registry[Callable[[], "ModelSource"]] = Registry("model_sources")
        self.errors: list[PluginLoadError] = []
        for reg in self.all().values():
            reg._failures = self.errors

    def kind(self, kind: str) -> Registry:
        if kind not in KINDS:
            hint = closest(kind, list(KINDS))
            raise RegistryError(f"unknown component kind {kind!r}" + (f"; did you mean {hint!r}?" if hint else "") + f" Kinds: {', '.join(KINDS)}")
        return getattr(self, kind)

    def all(self) -> dict[str, Registry]:
        return {k: getattr(self, k) for k in KINDS}

    def _set_source(self, source: str, plugin: str = "builtin") -> None:
        for reg in self.all().values():
            reg._source, reg._plugin = source, plugin

    def _snapshot(self) -> tuple:
        return len(self.errors), {k: (dict(r._entries), {n: dict(c) for n, c in r._clashes.items()}) for k, r in self.all().items()}

    def _report_clashes(self) -> None:
        """Replace the recorded clash failures by the current ones, in a fixed order."""
        self.errors[:] = [e for e in self.errors if e.stage != "clash"] + [f for r in self.all().values() for f in r.clash_failures()]

    def _restore(self, snapshot: tuple) -> list[tuple[str, str]]:
        """Undo everything since ``snapshot``; returns the ``(kind, name)`` pairs that were added."""
        errors, kinds = snapshot
        del self.errors[errors:]
        added = []
        for kind, (entries, clashes) in kinds.items():
            reg = self.kind(kind)
            added += [(kind, n) for n in reg._entries if n not in entries]
            reg._entries, reg._clashes = entries, clashes
            reg._resolved.clear()
        return added


class HookSpecs:
    @hookspec
    def vlmkit_register(self, registry: Registries) -> None:
        """Register components: ``registry.projectors.register("name", factory)`` and so on."""


_lock = threading.Lock()
_state: "Loaded | None" = None
_loading_thread: int | None = None  # the thread running the hooks, which must not wait for itself


def _load(extra: list[Any] | None = None) -> "Loaded":
    from vlmkit.plugin_loading import load_plugins

    global _loading_thread
    _loading_thread = threading.get_ident()
    try:
        return load_plugins(extra)
    finally:
        _loading_thread = None


def registries() -> Registries:
    """The process-wide registries, loaded once on first use. Inside a ``vlmkit_register`` hook
    they are still loading: a lookup there raises :class:`RegistryError` (instead of deadlocking)."""
    global _state
    if _loading_thread == threading.get_ident():
        raise RegistryError("the registries are still loading: a vlmkit_register hook cannot look components up")
    with _lock:
        if _state is None:
            _state = _load()
        return _state.registries


def loaded_plugins() -> dict[str, str]:
    """Entry-point name -> distribution of every plugin that registered."""
    registries()
    assert _state is not None
    return dict(_state.plugins)


def plugin_failures() -> list[PluginLoadError]:
    """Every plugin failure of the current registries: imports, hooks and name clashes."""
    return list(registries().errors)


def reset(extra: list[Any] | None = None) -> Registries:
    """Reload every plugin (tests, or after installing a plugin in a running process)."""
    global _state
    with _lock:
        _state = _load(extra)
        return _state.registries


def register_plugin(plugin: Any, name: str | None = None) -> None:
    """Register an in-process plugin object (a module or class with ``vlmkit_register``)."""
    from vlmkit.plugin_loading import register_into, warn_each

    regs = registries()
    assert _state is not None
    label = name or getattr(plugin, "__name__", repr(plugin))
    before = {str(e) for e in regs.errors}
    register_into(_state, plugin, label, "in-process")
    regs._report_clashes()
    warn_each([e for e in regs.errors if str(e) not in before])


def build(kind: str, name: str, /, **kwargs: Any) -> Any:
    """Look up ``name`` in ``kind`` and call its factory with ``kwargs``."""
    factory: Callable[..., Any] = registries().kind(kind).get(name)
    return factory(**kwargs)
