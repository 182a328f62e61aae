"""Every registered vision encoder x projector with tiny_llama: shapes, token counts, gradients, freezing."""

import pytest
import torch

from tiny_checkpoints import save_clip, save_siglip
from vlmkit.model.llm.tiny_llama import tiny_llama
from vlmkit.model.vlm import VisionLanguageModel
from vlmkit.registry import registries

# small options per registered encoder name; several configurations may test one name
ENCODERS = {
    "tiny_vit": [{}],
    "clip": [{"pretrained": "CLIP"}, {"pretrained": "CLIP", "select_feature": "cls_patch", "image_size": 48}],
    "siglip": [{"pretrained": "SIGLIP", "select_layer": -1}],
    "timm": [
        {"model": "vit_tiny_patch16_224", "weights": "none", "image_size": 32, "model_options": {"depth": 1, "embed_dim": 32, "num_heads": 2}},
        {"model": "resnet10t", "weights": "none", "image_size": 64, "pool_to": 3},
    ],
    "efficientnet_lite0": [{"image_size": 64}],
}
PROJECTOR_OPTIONS = {"resampler": {"num_latents": 3, "heads": 2, "depth": 1}, "transformer": {"heads": 2}}
# Parts that read one foreign folder and fit only each other (model.init_from): tested as a trio,
# against plain transformers, in tests/ecosystem/test_llava_import.py.
FOLDER_PARTS = {"llava_hf"}
CASES = [(enc, i) for enc, opts in ENCODERS.items() for i in range(len(opts))]


def builtin(kind):
    return [e.name for e in registries().kind(kind).entries() if e.source == "vlmkit" and e.name not in FOLDER_PARTS]


def test_every_builtin_encoder_is_covered():
    everything = {e.name for e in registries().vision_encoders.entries() if e.source == "vlmkit"}
    assert everything == set(ENCODERS) | FOLDER_PARTS


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    folders = {"CLIP": str(save_clip(tmp_path_factory.mktemp("clip"))), "SIGLIP": str(save_siglip(tmp_path_factory.mktemp("siglip")))}
    built = {}
    for name, i in CASES:
        opts = {k: folders.get(v, v) if isinstance(v, str) else v for k, v in ENCODERS[name][i].items()}
        torch.manual_seed(0)
        built[name, i] = registries().vision_encoders.get(name)(load_weights=True, **opts)
    return built


@pytest.fixture(scope="module")
def llms():
    cache = {}

    def get(width):
        if width not in cache:
            torch.manual_seed(0)
            cache[width] = tiny_llama(hidden_size=width, intermediate_size=64)
        return cache[width]

    return get


def batch(model, n_images, size):
    k, img = model.num_image_tokens, model.image_token_id
    row0 = [5, 6] + [img] * k + [7, 8, 9]
    row1 = [10] + [img] * k + [11] + [img] * (k * (n_images - 2)) + [12, 13]
    width = max(len(row0), len(row1))
    ids = torch.full((2, width), model.tokenizer.pad_token_id)
    mask = torch.zeros_like(ids)
    for i, row in enumerate((row0, row1)):
        ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
    labels = ids.masked_fill(mask == 0, -100)
    return ids, torch.randn(n_images, 3, size, size), mask, labels


@pytest.mark.parametrize("projector", builtin("projectors"))
@pytest.mark.parametrize("case", CASES, ids=[f"{n}{i}" for n, i in CASES])
def test_combination_trains(case, projector, encoders, llms):
    vision = encoders[case]
    llm = llms(vision.hidden_size if projector == "identity" else 64)
    factory = registries().projectors.get(projector)
    args = dict(in_dim=vision.hidden_size, out_dim=llm.hidden_size, num_input_tokens=vision.num_tokens, grid=vision.grid)
    if projector == "downsample" and vision.grid is None:  # CLS kept: no grid to merge
        with pytest.raises(ValueError, match="select_feature: patch"):
            factory(**args)
        return
    proj = factory(**args, **PROJECTOR_OPTIONS.get(projector, {}))
    model = VisionLanguageModel(vision, proj, llm).train()
    size = vision.image_transform.size
    feats = vision(torch.randn(2, 3, size, size))
    assert feats.shape == (2, vision.num_tokens, vision.hidden_size)
    assert vision.grid is None or vision.grid[0] * vision.grid[1] == vision.num_tokens
    assert model.num_image_tokens == proj.output_tokens(vision.num_tokens, vision.grid)
    assert model.encode_images(torch.randn(3, 3, size, size)).shape == (3, model.num_image_tokens, llm.hidden_size)

    for frozen in (False, True):
        model.zero_grad(set_to_none=True)
        vision.requires_grad_(not frozen)
        ids, pixels, mask, labels = batch(model, 3, size)
        out = model(ids, pixels, attention_mask=mask, labels=labels)
        assert out.logits.shape == (*ids.shape, llm.vocab_size)
        assert torch.isfinite(out.loss)
        out.loss.backward()
        for part in (proj, llm):
            for name, p in part.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), name
        for name, p in vision.named_parameters():
            assert (p.grad is None) if frozen else (p.grad is not None and torch.isfinite(p.grad).all()), name
    vision.requires_grad_(True)
