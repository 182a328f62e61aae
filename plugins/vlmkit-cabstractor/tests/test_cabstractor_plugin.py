"""The plugin is found through its entry point, by name, with our distribution as its source."""

import vlmkit
from vlmkit.registry import loaded_plugins


def test_registered_through_the_entry_point():
    registry = vlmkit.registries()
    entry = registry.projectors.entry("c_abstractor")
    assert entry.source == "vlmkit-cabstractor"
    assert loaded_plugins()["cabstractor"] == "vlmkit-cabstractor"
    from vlmkit_cabstractor.cabstractor import CAbstractor

    assert registry.projectors.get("c_abstractor") is CAbstractor


def test_a_recipe_builds_a_vlm_with_it():
    model = vlmkit.build_vlm(
        {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "c_abstractor", "num_queries": 4, "depth": 1}, "llm": {"name": "tiny_llama"}},
        load_weights=False,
    )
    assert model.num_image_tokens == 4


def test_the_encoder_is_registered_and_feeds_the_cabstractor():
    registry = vlmkit.registries()
    entry = registry.vision_encoders.entry("cabs_conv_encoder")
    assert entry.source == "vlmkit-cabstractor" and "grid" in entry.description
    model = vlmkit.build_vlm(
        {"vision_encoder": {"name": "cabs_conv_encoder", "image_size": 32, "patch_size": 8}, "projector": {"name": "c_abstractor", "num_queries": 4, "depth": 1},
         "llm": {"name": "tiny_llama"}},
        load_weights=False,
    )
    assert model.vision_encoder.grid == (4, 4) and model.num_image_tokens == 4
