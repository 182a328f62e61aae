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
