"""Each distinct image is encoded once per evaluation, and replies are the same as encoding every
image where it appears."""

import pytest
import torch
from tests.eval.conftest import prompt_ids

from vlmkit.eval.generate import GenerationConfig, generate
from vlmkit.eval.images import FeatureCache


class CountingModel:
    """``tiny_vlm`` with a count of the images it encodes."""

    def __init__(self, model) -> None:
        self.model, self.encoded = model, 0

    def parameters(self):
        return self.model.parameters()

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        self.encoded += pixels.shape[0]
        return self.model.encode_images(pixels)


def test_each_distinct_image_is_encoded_once_and_matches_a_direct_encode(tiny_vlm, pixel_images):
    counting = CountingModel(tiny_vlm)
    cache = FeatureCache(counting)
    sources = ["a", "b", "a", "c", "b"]
    pixels = {"a": pixel_images[0], "b": pixel_images[1], "c": pixel_images[2]}
    first = cache(sources, [pixels[s] for s in sources])
    again = cache(["c", "a"], [pixels["c"], pixels["a"]])
    assert counting.encoded == 3  # a, b, c once each, the second call served from the cache
    direct = tiny_vlm.encode_images(torch.stack([pixels[s] for s in sources]))
    for got, want in zip(first, direct):
        torch.testing.assert_close(got, want)
    assert again[0] is first[3] and again[1] is first[0]


def test_features_beyond_the_budget_are_encoded_again(tiny_vlm, pixel_images):
    counting = CountingModel(tiny_vlm)
    one = tiny_vlm.encode_images(pixel_images[0][None])[0]
    cache = FeatureCache(counting, budget_bytes=one.numel() * one.element_size())  # room for one image
    for source in ["a", "b", "a"]:
        cache([source], [pixel_images[0] if source == "a" else pixel_images[1]])
    assert counting.encoded == 3  # "a" was evicted by "b" and encoded again


@pytest.mark.parametrize("native", [True, False])
def test_generate_from_features_equals_generate_from_pixels(tiny_vlm, pixel_images, native):
    prompts = [prompt_ids(tiny_vlm, "what shape", 1), prompt_ids(tiny_vlm, "two of them", 2), prompt_ids(tiny_vlm, "none", 0)]
    images = [pixel_images[:1], pixel_images[1:3], []]
    config = GenerationConfig(max_new_tokens=6)
    names = [["p0"], ["p1", "p2"], []]
    cache = FeatureCache(tiny_vlm)
    features = [cache(row_names, row) for row_names, row in zip(names, images)]
    want = generate(tiny_vlm, prompts, images, config, native=native)
    got = generate(tiny_vlm, prompts, config=config, native=native, features=features)
    assert [g.token_ids for g in got] == [w.token_ids for w in want]


def test_generate_refuses_images_and_features_together(tiny_vlm, pixel_images):
    prompt = prompt_ids(tiny_vlm, "x", 1)
    features = [tiny_vlm.encode_images(pixel_images[0][None])[0]]
    with pytest.raises(ValueError, match="images or their features"):
        generate(tiny_vlm, [prompt], [pixel_images[:1]], features=[features])
