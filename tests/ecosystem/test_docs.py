"""The docs site: the recipe reference matches the pydantic models, the reliability page names
real tests, and ``mkdocs build --strict`` passes (broken links, anchors, snippets or docstrings fail)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def generator():
    spec = importlib.util.spec_from_file_location("gen_recipes", DOCS / "gen_recipes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_reference_is_generated_from_the_models():
    gen = generator()
    assert (DOCS / "recipes.md").read_text() == gen.render(), "docs/recipes.md is stale: run python docs/gen_recipes.py"


def test_recipe_reference_covers_every_key():
    from pydantic import BaseModel

    from vlmkit.config.models import Recipe

    page = (DOCS / "recipes.md").read_text()
    found: dict = {}
    generator().sections(Recipe, "", found)
    assert len(found) >= 10
    for model in found:
        assert issubclass(model, BaseModel)
        for key in model.model_fields:
            assert f"| `{key}` |" in page, f"{model.__name__}.{key} is missing from docs/recipes.md"
    assert "**required**" in page and "`'proportional'`" in page


def test_generator_check_mode_detects_a_stale_page(tmp_path, monkeypatch):
    gen = generator()
    monkeypatch.setattr(gen, "PAGE", tmp_path / "recipes.md")
    (tmp_path / "recipes.md").write_text("old\n")
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0


def test_reliability_page_names_existing_tests():
    text = (DOCS / "reliability.md").read_text()
    named = set(re.findall(r"`(tests/[\w/]+\.py)`", text))
    assert len(named) >= 10
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


@pytest.mark.slow  # builds the whole site with mkdocstrings: ~10 s
def test_mkdocs_build_strict(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "ProjectorConformance" in api and "from_pretrained" in api
    plugin_page = (tmp_path / "site" / "plugins" / "index.html").read_text()
    assert "vlmkit_register" in plugin_page  # the template's code is included, not copied
