"""What a plugin author reads and relies on (issue #21 items 1 and 5): docs/plugins.md states the
whole contract the code enforces, ``grid`` has one type however a projector is built, and
``vlmkit plugins list`` shows each component's description."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from vlmkit.model.projectors.mlp import MLPProjector
from vlmkit.model.vision.base import ImageTransform, VisionEncoder
from vlmkit.preflight_model import ENCODER_ATTRIBUTES
from vlmkit.registry import Entry, PluginLoadError, Registry
from vlmkit.testing import DataMixerConformance, LLMBackboneConformance, ProjectorConformance, VisionEncoderConformance

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
SUITES = (VisionEncoderConformance, ProjectorConformance, LLMBackboneConformance, DataMixerConformance)


def documented(name: str) -> bool:
    return f"`{name}`" in PAGE or f"`{name}(" in PAGE or f"`.{name}`" in PAGE


def test_the_page_documents_every_attribute_the_code_reads():
    """Encoder attributes, ImageTransform fields, Entry fields, Registry methods, failure fields
    and every tunable class attribute of the conformance suites, derived from the code."""
    names = {
        "encoder attribute": [*VisionEncoder.__annotations__, *ENCODER_ATTRIBUTES],
        "ImageTransform field": [f.name for f in dataclasses.fields(ImageTransform)],
        "Entry field": [f.name for f in dataclasses.fields(Entry)],
        "Registry method": [m for m in vars(Registry) if not m.startswith("_") and m != "unknown_message"],
        "PluginLoadError field": ["plugin", "distribution", "stage", "reason", "lost"],
        "suite attribute": sorted({a for s in SUITES for c in s.__mro__ for a in getattr(c, "__annotations__", {})
                                   if not a.startswith("_") and a not in ("kind", "mixtures")}),
    }
    missing = {what: [n for n in found if not documented(n)] for what, found in names.items()}
    assert not any(missing.values()), f"docs/plugins.md does not document: {missing}"
    for phrase in ("VisionEncoder.__init__()` takes no arguments", "num_output_tokens", "plugin_failures()",
                   "PluginWarning", "VLMKIT_DISABLE_PLUGINS=vlmkit-cabstractor", "conv_encoder.py:encoder"):
        assert phrase in PAGE, phrase


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 6), as_list=st.booleans())
def test_a_projector_grid_is_always_a_tuple(rows, cols, as_list):
    grid = [rows, cols] if as_list else (rows, cols)
    projector = MLPProjector(4, 4, rows * cols, grid)
    assert type(projector.grid) is tuple and projector.grid == (rows, cols)


def test_grid_keeps_its_type_through_an_export(tmp_path):
    from vlmkit.config import ModelConfig
    from vlmkit.export.vlmkit_format import export_vlmkit, load_export
    from vlmkit.model.vlm import build_vlm

    spec = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "c_abstractor", "num_queries": 4, "depth": 1},
            "llm": {"name": "tiny_llama"}}
    model = build_vlm(spec)
    export_vlmkit(model, ModelConfig.model_validate(spec), tmp_path / "out")
    reloaded, _ = load_export(tmp_path / "out")
    assert type(reloaded.projector.grid) is tuple and reloaded.projector.grid == model.projector.grid == (4, 4)


def test_plugins_list_shows_each_description(capsys):
    from vlmkit.cli import main
    from vlmkit.registry import registries

    assert main(["plugins", "list"]) == 0
    rows: dict[tuple[str, str], str] = {}
    kind = ""
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith(" "):
            kind = line.split()[0]  # "projectors (7)"
        else:
            rows[kind, line.split()[0]] = line.rstrip()
    for kind, reg in registries().all().items():
        for entry in reg.entries():
            row = rows[kind, entry.name]
            assert row.split()[1] == entry.source and row.endswith(entry.description), row


def test_failures_carry_what_the_docs_promise():
    failure = PluginLoadError("acme", "acme-vlm", "import", "failed to import: ImportError('x')")
    assert str(failure) == "plugin 'acme' from distribution 'acme-vlm' failed to import: ImportError('x')"
    assert failure.lost == ()
