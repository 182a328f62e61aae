"""Every built-in model component: registered, documented, and with options a recipe check can verify."""

from pathlib import Path

import pytest

from vlmkit.preflight import factory_options
from vlmkit.registry import registries

DOCS = Path(__file__).resolve().parents[2] / "docs" / "components.md"
BUILTINS = [(kind, e.name) for kind in ("vision_encoders", "projectors", "llms")
            for e in registries().kind(kind).entries() if e.source == "vlmkit"]


def test_the_expected_names_are_registered():
    names = {name for _, name in BUILTINS}
    assert {"tiny_vit", "clip", "siglip", "timm", "efficientnet_lite0", "identity", "linear", "mlp", "downsample",
            "resampler", "transformer", "tiny_llama", "hf_causal_lm", "smollm2_135m"} <= names


@pytest.mark.parametrize("kind, name", BUILTINS)
def test_factory_options_are_explicit_and_documented(kind, name):
    options = factory_options(registries().kind(kind).get(name))
    assert options is not None, f"{name} takes **kwargs: recipe checks could not catch a misspelt option"
    text = DOCS.read_text()
    assert f"`{name}`" in text
    for option in options:
        assert f"`{option}`" in text, f"{name}: option {option!r} is not documented"
