"""The typed registries and plugin loading."""

import types

import pytest

from vlmkit import registry as reg
from vlmkit.registry import Registries, Registry, RegistryError, hookimpl


def test_register_get_names_and_lazy_strings():
    r = Registry("projectors")
    r.register("b", "collections:OrderedDict")
    r.register("a", dict)
    assert r.names() == ["a", "b"]
    assert r.get("a") is dict
    import collections

    assert r.get("b") is collections.OrderedDict
    assert "a" in r and len(r) == 2


def test_unknown_name_lists_known_and_closest():
    r = Registry("projectors")
    for name in ("linear", "mlp", "downsample"):
        r.register(name, dict)
    with pytest.raises(RegistryError) as err:
        r.get("downsampel")
    msg = str(err.value)
    assert "did you mean 'downsample'" in msg and "linear" in msg and "mlp" in msg


def test_bad_lazy_string_names_the_entry():
    r = Registry("llms")
    r.register("ghost", "vlmkit_no_such_module:thing")
    with pytest.raises(RegistryError, match="ghost.*cannot be imported"):
        r.get("ghost")


def test_name_clash_between_plugins_gives_the_name_to_neither():
    regs = Registries()
    regs._set_source("acme", "acme_plugin")
    regs.projectors.register("shared", dict)
    regs._set_source("other", "other_plugin")
    regs.projectors.register("shared", list)
    assert "shared" not in regs.projectors
    acme, other = regs.projectors.clash_failures()
    assert (acme.plugin, acme.distribution, other.plugin, other.distribution) == ("acme_plugin", "acme", "other_plugin", "other")
    assert acme.stage == "clash" and "'other' registers too" in str(acme) and "'acme' registers too" in str(other)


def test_registering_a_taken_name_outside_a_plugin_hook_is_refused():
    regs = Registries()
    regs._set_source("acme")
    regs.projectors.register("mlp", dict)
    regs._set_source("vlmkit")
    with pytest.raises(RegistryError, match="already registered by 'acme'"):
        regs.projectors.register("mlp", list)


def test_unknown_kind_is_named():
    with pytest.raises(RegistryError, match="did you mean 'projectors'"):
        Registries().kind("projector")


def test_in_process_plugin_registers_and_a_broken_one_is_reported():
    good = types.SimpleNamespace(__name__="good_plugin")
    bad = types.SimpleNamespace(__name__="bad_plugin")

    @hookimpl
    def good_register(registry):
        registry.projectors.register("acme_proj", dict)

    @hookimpl
    def bad_register(registry):
        raise RuntimeError("boom")

    good.vlmkit_register = good_register
    bad.vlmkit_register = bad_register
    try:
        regs = reg.reset(extra=[bad, good])
        assert regs.projectors.entry("acme_proj").source == "good_plugin"
        assert any("bad_plugin" in str(e) and "boom" in str(e) for e in regs.errors)
        plugins = reg.loaded_plugins()
        assert "good_plugin" in plugins and "builtin" in plugins and "bad_plugin" not in plugins
    finally:
        reg.reset()


def test_build_calls_the_factory():
    regs = reg.reset()
    regs.mixers.register("echo_mixer", lambda **kw: kw)
    try:
        assert reg.build("mixers", "echo_mixer", a=1) == {"a": 1}
    finally:
        reg.reset()


def test_failed_plugin_registrations_are_rolled_back():
    half = types.SimpleNamespace(__name__="half_plugin")

    @hookimpl
    def half_register(registry):
        registry.projectors.register("half_proj", dict)
        raise ValueError("second registration failed")

    half.vlmkit_register = half_register
    try:
        regs = reg.reset(extra=[half])
        assert "half_proj" not in regs.projectors
        assert "half_plugin" not in reg.loaded_plugins()
    finally:
        reg.reset()


def test_every_kind_is_typed_with_names_that_import():
    """Each kind's ``Registry[...]`` names its interface; the type-only imports behind those names
    must import, so the annotations are never stale."""
    import ast
    import inspect
    import typing

    import vlmkit.registry as module

    source = inspect.getsource(module)
    tree = ast.parse(source)
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    names: dict = {}
    exec(compile(ast.Module(body=block.body, type_ignores=[]), "registry-types", "exec"), names)
    init = ast.parse(inspect.getsource(module.Registries.__init__).strip())
    typed = {t.attr: ast.unparse(n.annotation) for n in ast.walk(init) if isinstance(n, ast.AnnAssign) for t in [n.target]}
    typed.pop("errors")
    assert set(typed) == set(module.KINDS)
    for kind, annotation in typed.items():
        assert annotation.startswith("Registry["), f"{kind} is a bare Registry"
        hint = eval(annotation, {**vars(module), **names})  # every name resolves, forward refs included
        for ref in [a for a in typing.get_args(typing.get_args(hint)[0]) if isinstance(a, typing.ForwardRef)]:
            eval(ref.__forward_arg__, {**vars(module), **names})
