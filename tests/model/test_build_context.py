"""One build protocol (issue #18 item 1): every caller builds a component through
``vlmkit.model.build`` with one :class:`BuildContext`, so a factory sees the same context whether
``build_vlm``, ``vlmkit check``'s meta-device build or an export reload calls it, and factories
written before the context existed keep getting exactly their kind's arguments."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmkit import registry as reg
from vlmkit.config import load_recipe
from vlmkit.model.build import BuildContext, build_component, call_factory
from vlmkit.model.llm.tiny_llama import tiny_llama
from vlmkit.model.projectors.mlp import MLPProjector
from vlmkit.model.vision.tiny_vit import tiny_vit
from vlmkit.preflight import factory_options

TINY = Path(__file__).resolve().parents[2] / "recipes" / "tiny.yaml"
CALLS: list[tuple[str, dict, BuildContext]] = []  # (kind, arguments besides the options, context)


def ctx_vit(load_weights: bool = True, width: int = 32, *, build_context: BuildContext):
    CALLS.append(("vision_encoders", {"load_weights": load_weights}, build_context))
    return tiny_vit(load_weights, width=width)


def ctx_llama(load_weights: bool = True, hidden_size: int = 64, *, build_context: BuildContext):
    CALLS.append(("llms", {"load_weights": load_weights}, build_context))
    return tiny_llama(load_weights, hidden_size=hidden_size)


def ctx_mlp(in_dim: int, out_dim: int, num_input_tokens: int, grid=None, depth: int = 2, *, build_context: BuildContext):
    CALLS.append(("projectors", {"in_dim": in_dim, "out_dim": out_dim, "num_input_tokens": num_input_tokens, "grid": grid}, build_context))
    return MLPProjector(in_dim, out_dim, num_input_tokens, grid, depth=depth)


class ContextPlugin:
    @staticmethod
    @reg.hookimpl
    def vlmkit_register(registry):
        registry.vision_encoders.register("ctx_vit", ctx_vit)
        registry.llms.register("ctx_llama", ctx_llama)
        registry.projectors.register("ctx_mlp", ctx_mlp)


@pytest.fixture(scope="module")
def plugin():
    reg.reset(extra=[ContextPlugin])
    yield
    reg.reset()


def recorded(make) -> dict[str, tuple[dict, BuildContext]]:
    CALLS.clear()
    make()
    return {kind: (args, ctx) for kind, args, ctx in CALLS}


def on_cpu(calls: dict[str, tuple[dict, BuildContext]]) -> dict[str, tuple[dict, BuildContext]]:
    return {kind: (args, dataclasses.replace(ctx, device=None)) for kind, (args, ctx) in calls.items()}


@settings(max_examples=3, deadline=None)
@given(width=st.sampled_from([16, 24, 32]), hidden=st.sampled_from([32, 64]))
def test_every_caller_gives_a_factory_the_same_context(plugin, tmp_path_factory, width, hidden):
    from vlmkit.export.vlmkit_format import export_vlmkit, from_pretrained
    from vlmkit.model.vlm import build_vlm
    from vlmkit.preflight_model import build_meta_parts

    model = {"vision_encoder": {"name": "ctx_vit", "width": width}, "projector": {"name": "ctx_mlp", "depth": 1},
             "llm": {"name": "ctx_llama", "hidden_size": hidden}}
    recipe = load_recipe(TINY, [f"model.{part}={json.dumps(spec)}" for part, spec in model.items()])
    built = recorded(lambda: build_vlm(recipe.model, load_weights=False))
    problems: list[str] = []
    checked = recorded(lambda: build_meta_parts(recipe, reg.registries(), set(), problems))
    assert not problems and {ctx.device for _, ctx in checked.values()} == {"meta"}
    assert on_cpu(checked) == built

    out = tmp_path_factory.mktemp("export") / "out"
    export_vlmkit(build_vlm(recipe.model), recipe.model, out)
    reloaded = recorded(lambda: from_pretrained(out))
    assert set(reloaded) == {"vision_encoders", "projectors"}  # the LLM reloads as a transformers folder
    assert reloaded == {kind: built[kind] for kind in reloaded}

    args, ctx = built["projectors"]
    assert args == {"in_dim": width, "out_dim": hidden, "num_input_tokens": 16, "grid": (4, 4)}
    assert (ctx.vision_hidden_size, ctx.llm_hidden_size, ctx.vision_tokens, ctx.vision_grid, ctx.load_weights) == (width, hidden, 16, (4, 4), False)
    assert built["vision_encoders"] == ({"load_weights": False}, BuildContext(load_weights=False))


def test_a_factory_without_the_context_gets_only_its_kinds_arguments():
    seen = {}

    def old_style(**kwargs):
        seen.update(kwargs)
        return kwargs

    context = BuildContext(load_weights=False).after("vision_encoders", tiny_vit(width=24)).after("llms", tiny_llama(hidden_size=32))
    call_factory("projectors", old_style, {"depth": 1}, context)
    assert seen == {"in_dim": 24, "out_dim": 32, "num_input_tokens": 16, "grid": (4, 4), "depth": 1}
    seen.clear()
    call_factory("llms", old_style, {"hidden_size": 8}, context)
    assert seen == {"load_weights": False, "hidden_size": 8}
    seen.clear()
    call_factory("mixers", old_style, {"weights": 1}, context)
    assert seen == {"weights": 1}


def test_the_context_device_is_where_parts_are_built():
    from vlmkit.model.vlm import build_vlm

    model = build_vlm(load_recipe(TINY).model, load_weights=False, device="meta")
    assert all(p.is_meta for p in model.parameters())


def test_a_part_built_before_its_inputs_is_named():
    with pytest.raises(ValueError, match="vision_hidden_size, llm_hidden_size, vision_tokens, vision_grid"):
        build_component("projectors", {"name": "mlp"}, BuildContext())


def test_build_context_is_never_a_recipe_option():
    assert factory_options(ctx_mlp) == {"depth"}
    assert factory_options(ctx_vit) == {"width"}


def test_the_conformance_kit_builds_through_the_protocol(plugin):
    from vlmkit.testing import ProjectorConformance

    class Suite(ProjectorConformance):
        factory = "ctx_mlp"
        kwargs = {"depth": 1}

    made = recorded(lambda: Suite().make(num_input_tokens=36, grid=(6, 6)))
    args, ctx = made["projectors"]
    assert args == {"in_dim": 24, "out_dim": 40, "num_input_tokens": 36, "grid": (6, 6)}
    assert ctx == BuildContext(load_weights=False, vision_hidden_size=24, llm_hidden_size=40, vision_tokens=36, vision_grid=(6, 6))
    with torch.no_grad():
        assert Suite().make()(torch.zeros(1, 16, 24)).shape == (1, 16, 40)
