"""Third-party plugins through the ``vlmkit`` entry-point group, as ``vlmkit plugins list --json``
shows them: the installed vlmkit-cabstractor, a plugin that fails to import, one whose hook
raises, and ``VLMKIT_DISABLE_PLUGINS``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def fake_distribution(root: Path, dist: str, entry_name: str, package: str, source: str) -> None:
    """An installed-looking distribution: ``<dist>-0.1.dist-info`` with a ``vlmkit`` entry point
    and a package ``package`` whose ``plugin`` module is ``source``."""
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[vlmkit]\n{entry_name} = {package}.plugin\n")
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("")
    (root / package / "plugin.py").write_text(source)


GOOD = """
import vlmkit

@vlmkit.hookimpl
def vlmkit_register(registry):
    registry.projectors.register("acme_proj", "acme_good.impl:Proj", description="test")
"""
IMPORT_FAILS = "raise ImportError('acme_broken needs libfoo')\n"
HOOK_FAILS = """
import vlmkit

@vlmkit.hookimpl
def vlmkit_register(registry):
    registry.llms.register("half_registered", "x:y")
    raise RuntimeError("boom in register")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    fake_distribution(root, "acme-good", "acme_good", "acme_good", GOOD)
    fake_distribution(root, "acme-broken", "acme_broken", "acme_broken", IMPORT_FAILS)
    fake_distribution(root, "acme-hookfail", "acme_hookfail", "acme_hookfail", HOOK_FAILS)
    return root


def plugins_list(extra_path: Path | None = None, disable: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "VLMKIT_DISABLE_PLUGINS"}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    if disable is not None:
        env["VLMKIT_DISABLE_PLUGINS"] = disable
    proc = subprocess.run(
        [sys.executable, "-m", "vlmkit.cli", "plugins", "list", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def sources(info: dict, kind: str) -> dict[str, str]:
    return {e["name"]: e["distribution"] for e in info["components"][kind]}


def test_installed_plugin_is_listed_with_its_distribution():
    info = plugins_list()
    assert sources(info, "projectors")["c_abstractor"] == "vlmkit-cabstractor"
    assert sources(info, "projectors")["mlp"] == "vlmkit"
    assert info["plugins"]["cabstractor"] == "vlmkit-cabstractor"
    assert info["errors"] == []


def test_broken_plugins_are_reported_by_name_and_the_rest_work(site):
    info = plugins_list(site)
    projectors = sources(info, "projectors")
    assert projectors["acme_proj"] == "acme-good"
    assert projectors["c_abstractor"] == "vlmkit-cabstractor"
    assert "tiny_llama" in sources(info, "llms")
    errors = "\n".join(info["errors"])
    assert len(info["errors"]) == 2, errors
    assert "'acme_broken' from distribution 'acme-broken' failed to import" in errors and "libfoo" in errors
    assert "'acme_hookfail' from distribution 'acme-hookfail' failed to register" in errors and "boom" in errors
    # A plugin that fails half-way leaves nothing behind.
    assert "half_registered" not in sources(info, "llms")


def test_disable_named_plugins(site):
    info = plugins_list(site, disable="acme_broken, cabstractor")
    projectors = sources(info, "projectors")
    assert "c_abstractor" not in projectors and "acme_proj" in projectors
    assert "cabstractor" not in info["plugins"]
    assert ["acme_broken" in e for e in info["errors"]] == [False]


def test_disable_every_third_party_plugin(site):
    info = plugins_list(site, disable="*")
    dists = {e["distribution"] for entries in info["components"].values() for e in entries}
    assert dists == {"vlmkit"}
    assert info["errors"] == []
    assert "mlp" in sources(info, "projectors")


def test_text_listing_warns_once_per_failed_plugin(site):
    env = {k: v for k, v in os.environ.items() if k != "VLMKIT_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "vlmkit.cli", "plugins", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("vlmkit plugins: warning: plugin 'acme_") for w in warnings), proc.stderr
    assert any(line.split()[:3] == ["acme_proj", "acme-good", "test"] for line in proc.stdout.splitlines()), proc.stdout
