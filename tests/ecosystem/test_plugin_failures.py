"""Broken and clashing plugins (issue #21 items 3 and 4): every failure is reported by plugin and
distribution where the user meets it (a lookup that misses, ``vlmkit check``, the Python API),
a clash keeps whatever does not clash, and the outcome does not depend on entry-point order.

Distributions are faked as ``*.dist-info`` folders on ``sys.path`` and loaded in-process."""

from __future__ import annotations

import importlib
import itertools
import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmkit import registry as reg
from vlmkit.registry import PluginWarning, RegistryError

counter = itertools.count()


class Site:
    """A folder on ``sys.path`` holding fake installed distributions."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, dist: str, body: str, entry: str | None = None) -> str:
        """Install ``dist`` whose ``vlmkit`` entry point ``entry`` is a module with ``body``; returns
        the (unique) package name."""
        package = f"fake_{dist.replace('-', '_').lower()}_{next(counter)}"
        info = self.root / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[vlmkit]\n{entry or package} = {package}\n")
        (self.root / f"{package}.py").write_text("import vlmkit\n" + textwrap.dedent(body))
        return package

    def load(self, warns: bool = True) -> reg.Registries:
        """Reload the plugins; a :class:`PluginWarning` must be issued exactly when ``warns``."""
        importlib.invalidate_caches()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PluginWarning)
            regs = reg.reset()
        assert any(w.category is PluginWarning for w in caught) == warns, [str(w.message) for w in caught]
        return regs


@pytest.fixture
def site(tmp_path):
    sys.path.insert(0, str(tmp_path))
    try:
        yield Site(tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        reg.reset()


def registers(*pairs: tuple[str, str]) -> str:
    lines = "".join(f"    registry.{kind}.register({name!r}, 'collections:OrderedDict')\n" for kind, name in pairs)
    return f"@vlmkit.hookimpl\ndef vlmkit_register(registry):\n{lines}"


def test_a_missed_lookup_names_the_plugin_that_failed_to_import_and_why(site):
    site.add("acme-broken", "raise ImportError('acme needs libfoo')\n")
    regs = site.load()
    with pytest.raises(RegistryError) as err:
        regs.projectors.get("acme_proj")
    message = str(err.value)
    assert "unknown projector 'acme_proj'" in message
    assert "failed to load" in message and "'acme-broken' failed to import" in message and "libfoo" in message


def test_a_name_registered_before_the_hook_raised_names_that_plugin(site):
    site.add("acme-half", "@vlmkit.hookimpl\ndef vlmkit_register(registry):\n"
                          "    registry.llms.register('acme_llm', 'x:y')\n    raise RuntimeError('boom')\n")
    regs = site.load()
    with pytest.raises(RegistryError, match=r"llm 'acme_llm' is unavailable: plugin .* from distribution 'acme-half' failed to register: RuntimeError\('boom'\)"):
        regs.llms.get("acme_llm")


def test_failures_are_listed_by_the_api_and_warned(site):
    site.add("acme-broken", "raise ImportError('libfoo')\n", entry="acme_broken")
    site.add("acme-good", registers(("projectors", "acme_good_proj")))
    site.load()
    (failure,) = reg.plugin_failures()
    assert (failure.plugin, failure.distribution, failure.stage) == ("acme_broken", "acme-broken", "import")
    assert "acme_good_proj" in reg.registries().projectors


def test_check_warns_about_failed_plugins_in_one_line(site, tmp_path, capsys):
    from vlmkit.cli import main

    site.add("acme-broken", "raise ImportError('libfoo')\n", entry="acme_broken")
    site.load()
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent("""
        name: r
        model: {vision_encoder: {name: tiny_vit}, projector: {name: acme_proj}, llm: {name: tiny_llama}}
        datasets: {pairs: {name: embedded_pairs}}
        stages: {align: {trainable: [projector], mixture: {pairs: 1.0}, optimizer: {lr: 1.0e-3}, global_batch_size: 2, duration: 1ba}}
    """))
    assert main(["check", str(recipe), "--no-data"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "vlmkit check: warning: plugin 'acme_broken' from distribution 'acme-broken' failed to import: ImportError('libfoo')"
    assert any(line.startswith("vlmkit check: error:") and "model.projector.name: unknown projector 'acme_proj'" in line
               and "'acme-broken' failed to import" in line for line in err), err


def clash_outcome(root: Path, order: tuple[str, str]) -> tuple:
    """Load two distributions that both register ``acme_shared`` under entry points named in
    ``order``; returns what a user sees, without the entry-point names."""
    sys.path.insert(0, str(root))
    try:
        site = Site(root)
        site.add("acme-one", registers(("projectors", "acme_shared"), ("projectors", "acme_one_only")), entry=order[0])
        site.add("acme-two", registers(("projectors", "acme_shared"), ("mixers", "acme_two_only")), entry=order[1])
        regs = site.load()
        with pytest.raises(RegistryError) as err:
            regs.projectors.get("acme_shared")
        names = {(kind, e.name, e.source) for kind, r in regs.all().items() for e in r.entries() if e.source.startswith("acme")}
        failures = [(f.distribution, f.stage, f.lost) for f in reg.plugin_failures()]
        return names, failures, str(err.value).replace(order[0], "EP").replace(order[1], "EP")
    finally:
        sys.path.remove(str(root))


def test_a_clash_gives_the_name_to_neither_keeps_the_rest_whatever_the_order(tmp_path):
    (root_a := tmp_path / "a").mkdir()
    (root_b := tmp_path / "b").mkdir()
    try:
        first, second = clash_outcome(root_a, ("aaa", "zzz")), clash_outcome(root_b, ("zzz", "aaa"))
    finally:
        reg.reset()
    assert first == second
    names, failures, message = first
    assert names == {("projectors", "acme_one_only", "acme-one"), ("mixers", "acme_two_only", "acme-two")}
    lost = (("projectors", "acme_shared"),)
    assert failures == [("acme-one", "clash", lost), ("acme-two", "clash", lost)]
    assert "'acme-one' registers too" in message and "'acme-two' registers too" in message and "VLMKIT_DISABLE_PLUGINS" in message


def test_a_plugin_cannot_take_a_built_in_name_but_keeps_its_others(site):
    site.add("acme-greedy", registers(("projectors", "mlp"), ("projectors", "acme_greedy_proj")))
    regs = site.load()
    assert regs.projectors.entry("mlp").source == "vlmkit"
    assert regs.projectors.entry("acme_greedy_proj").source == "acme-greedy"
    (clash,) = reg.plugin_failures()
    assert "built-in" in str(clash) and clash.distribution == "acme-greedy"


def test_disable_by_distribution_name(site, monkeypatch):
    site.add("Acme-Tools", registers(("projectors", "acme_tool_proj")), entry="acmeplug")
    assert "acme_tool_proj" in site.load(warns=False).projectors
    monkeypatch.setenv("VLMKIT_DISABLE_PLUGINS", "acme_tools")  # any spelling of the distribution name
    regs = site.load(warns=False)
    assert "acme_tool_proj" not in regs.projectors and "acmeplug" not in reg.loaded_plugins()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("@vlmkit.hookimpl\ndef vlmkit_registry(registry):\n    registry.projectors.register('acme_p', dict)\n",
         "defines hook 'vlmkit_registry', which vlmkit does not have; did you mean 'vlmkit_register'?"),
        ("def vlmkit_register(registry):\n    registry.projectors.register('acme_p', dict)\n",
         "defines vlmkit_register without the @vlmkit.hookimpl marker"),
        ("X = 1\n", "has no @vlmkit.hookimpl function vlmkit_register(registry)"),
    ],
    ids=["misnamed", "unmarked", "no-hook"],
)
def test_a_hook_that_would_register_nothing_is_a_failure(site, body, message):
    site.add("acme-hooks", body)
    regs = site.load()
    assert "acme_p" not in regs.projectors
    (failure,) = reg.plugin_failures()
    assert failure.stage == "hook" and failure.distribution == "acme-hooks" and message in str(failure)


def in_process_plugin(dist: str, names: list[str]):
    """A plugin object (its ``__name__`` is its distribution) registering ``names`` as projectors."""
    @reg.hookimpl
    def vlmkit_register(registry):
        for name in names:
            registry.projectors.register(name, dict)

    return types.SimpleNamespace(__name__=dist, vlmkit_register=vlmkit_register)


@settings(max_examples=15, deadline=None)
@given(claims=st.lists(st.lists(st.sampled_from(["acme_a", "acme_b", "acme_c", "mlp"]), unique=True), min_size=2, max_size=4),
       data=st.data())
def test_the_outcome_of_any_clash_pattern_does_not_depend_on_the_order(claims, data):
    """A name claimed by one distribution is its; by several, nobody's (a built-in stays vlmkit's)."""
    plugins = [in_process_plugin(f"dist{i}", names) for i, names in enumerate(claims)]
    shuffled = data.draw(st.permutations(plugins))
    outcomes = []
    try:
        for order in (plugins, shuffled):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PluginWarning)
                regs = reg.reset(extra=list(order))
            outcomes.append(({e.name: e.source for e in regs.projectors.entries()}, [str(f) for f in reg.plugin_failures()]))
    finally:
        reg.reset()
    assert outcomes[0] == outcomes[1]
    owners, _ = outcomes[0]
    for name in ("acme_a", "acme_b", "acme_c"):
        claimants = [f"dist{i}" for i, names in enumerate(claims) if name in names]
        assert owners.get(name) == (claimants[0] if len(claimants) == 1 else None)
    assert owners["mlp"] == "vlmkit"
