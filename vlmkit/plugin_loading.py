"""Loading plugins into fresh :class:`~vlmkit.registry.Registries`: the built-ins, every ``vlmkit``
entry point not disabled, then in-process plugins. Each plugin's hook is validated (a misnamed,
unmarked or missing hook is a failure), run with its distribution attributed, and rolled back if
it raises; clashes are reported once all plugins have registered."""

from __future__ import annotations

import importlib
import os
import re
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from vlmkit.registry import (
    BUILTIN_PLUGIN, DISABLE_ENV, ENTRY_POINT_GROUP, HOOK, PROJECT, HookSpecs, PluginLoadError, PluginWarning, Registries, closest,
)


@dataclass
class Loaded:
    """The registries of one load, the pluggy manager holding the plugins, and the plugins that registered."""

    registries: Registries
    manager: pluggy.PluginManager
    plugins: dict[str, str] = field(default_factory=dict)  # entry-point name -> distribution


def normalize(name: str) -> str:
    """A distribution name in PEP 503 form (``Acme_VLM`` -> ``acme-vlm``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _disabled() -> set[str]:
    return {normalize(p.strip()) for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip()}


def hook_problem(manager: pluggy.PluginManager, plugin: Any) -> str | None:
    """Why ``plugin`` would register nothing (a misnamed, unmarked or missing hook), or None."""
    marked = [a for a in dir(plugin) if manager.parse_hookimpl_opts(plugin, a) is not None]
    unknown = [a for a in marked if a != HOOK]
    if unknown:
        hint = "; did you mean 'vlmkit_register'?" if closest(unknown[0], [HOOK]) else "."
        return f"defines hook {unknown[0]!r}, which vlmkit does not have{hint} The only hook is vlmkit_register(registry)"
    if HOOK in marked:
        return None
    if callable(getattr(plugin, HOOK, None)):
        return "defines vlmkit_register without the @vlmkit.hookimpl marker, so it registers nothing; add the marker"
    return "has no @vlmkit.hookimpl function vlmkit_register(registry), so it registers nothing"


def register_into(loaded: Loaded, plugin: Any, name: str, source: str) -> None:
    """Register ``plugin`` with pluggy and run its ``vlmkit_register`` with ``source`` attributed.

    A plugin whose hook is missing, misnamed or raises is unregistered, its partial registrations
    are rolled back and the failure is recorded; the other plugins keep working.
    """
    regs = loaded.registries
    problem = hook_problem(loaded.manager, plugin)
    if problem is not None:
        regs.errors.append(PluginLoadError(name, source, "hook", problem))
        return
    snapshot = regs._snapshot()
    regs._set_source(source, name)
    try:
        loaded.manager.register(plugin, name=name)
        (impl,) = [i for i in loaded.manager.hook.vlmkit_register.get_hookimpls() if i.plugin is plugin]
        impl.function(registry=regs)
    except Exception as exc:  # a broken plugin must not take the others down
        if loaded.manager.is_registered(plugin):
            loaded.manager.unregister(plugin)
        lost = regs._restore(snapshot)
        regs.errors.append(PluginLoadError(name, source, "register", f"failed to register: {exc!r}", lost))
        return
    finally:
        regs._set_source(PROJECT)
    loaded.plugins[name] = source


def load_plugins(extra: list[Any] | None = None) -> Loaded:
    """Build fresh registries: the built-ins, then every ``vlmkit`` entry point not disabled
    (by entry-point or distribution name), then ``extra`` in-process plugins; warns per failure."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    loaded = Loaded(Registries(), manager)
    register_into(loaded, importlib.import_module(BUILTIN_PLUGIN), "builtin", PROJECT)
    disabled = _disabled()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else ep.name
        if ep.value == BUILTIN_PLUGIN or {"*", normalize(ep.name), normalize(dist)} & disabled:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            loaded.registries.errors.append(PluginLoadError(ep.name, dist, "import", f"failed to import: {exc!r}"))
            continue
        register_into(loaded, plugin, ep.name, dist)
    for i, plugin in enumerate(extra or []):
        register_into(loaded, plugin, getattr(plugin, "__name__", f"extra{i}"), getattr(plugin, "__name__", "extra"))
    loaded.registries._report_clashes()
    warn_each(loaded.registries.errors)
    return loaded


def warn_each(errors: list[PluginLoadError]) -> None:
    """One :class:`~vlmkit.registry.PluginWarning` per failure."""
    for err in errors:
        warnings.warn(str(err), PluginWarning, stacklevel=3)
