"""Vision encoders: local checkpoints, selected layer/feature, image size, transforms, no-weight builds."""

import pytest
import torch
from tiny_checkpoints import save_clip, save_siglip

from vlmkit.model.vision.hf_tower import clip, siglip
from vlmkit.model.vision.timm_encoder import timm_encoder


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return save_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    return save_siglip(tmp_path_factory.mktemp("siglip"))


def test_clip_loads_weights_and_takes_the_second_to_last_layer(clip_dir):
    from transformers import CLIPVisionModel

    enc = clip(pretrained=str(clip_dir)).eval()
    ref = CLIPVisionModel.from_pretrained(clip_dir).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = ref(pixel_values=x, output_hidden_states=True).hidden_states[-2][:, 1:]
        got = enc(x)
    torch.testing.assert_close(got, want)
    assert (enc.num_tokens, enc.grid, enc.hidden_size) == (16, (4, 4), 32)
    assert len(enc.model.vision_model.encoder.layers) == 2  # the unused last layer is not kept
    assert enc.image_transform.mean == pytest.approx((0.1, 0.2, 0.3))  # from the processor config
    assert enc.image_transform.std == pytest.approx((0.4, 0.5, 0.6))


def test_clip_cls_patch_keeps_cls_and_has_no_grid(clip_dir):
    enc = clip(pretrained=str(clip_dir), select_feature="cls_patch", select_layer=-1)
    assert (enc.num_tokens, enc.grid) == (17, None)
    assert enc(torch.randn(1, 3, 32, 32)).shape == (1, 17, 32)


@pytest.mark.parametrize("size, tokens", [(48, 36), (24, 9)])
def test_image_size_interpolates_positions(clip_dir, size, tokens):
    enc = clip(pretrained=str(clip_dir), image_size=size)
    assert enc.image_transform.size == size and enc.num_tokens == tokens
    assert enc(torch.randn(1, 3, size, size)).shape == (1, tokens, 32)


def test_siglip_matches_hidden_state_without_post_norm(siglip_dir):
    from transformers import SiglipVisionModel

    enc = siglip(pretrained=str(siglip_dir), select_layer=-2).eval()
    ref = SiglipVisionModel.from_pretrained(siglip_dir).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(enc(x), ref(pixel_values=x, output_hidden_states=True).hidden_states[-2])
    assert enc.image_transform.mean == (0.5, 0.5, 0.5)  # no processor config: SigLIP's defaults
    assert not any("head" in n for n, _ in enc.named_parameters())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"select_layer": 5}, "select_layer 5 is out of range"),
        ({"select_feature": "cls_patch"}, "no CLS token"),
        ({"select_feature": "cls"}, "select_feature must be one of"),
        ({"resize": "crop"}, "resize must be 'pad'"),
    ],
)
def test_bad_options_name_the_problem(siglip_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        siglip(pretrained=str(siglip_dir), **kwargs)


def test_vila_resize_is_squash(siglip_dir):
    assert siglip(pretrained=str(siglip_dir), resize="resize").image_transform.resize == "squash"


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="give a local folder"):
        clip(pretrained=str(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    "factory, name, tokens, width",
    [(clip, "openai/clip-vit-large-patch14-336", 576, 1024), (clip, "openai/clip-vit-large-patch14", 256, 1024),
     (siglip, "google/siglip-so400m-patch14-384", 729, 1152)],
)
def test_shipped_configs_build_on_meta_without_weights(factory, name, tokens, width):
    enc = factory(load_weights=False, pretrained=name)
    assert (enc.num_tokens, enc.hidden_size) == (tokens, width)
    assert all(p.is_meta for p in enc.parameters())


def test_timm_local_weights_file_is_loaded(tmp_path):
    from safetensors.torch import save_file

    opts = dict(model="vit_tiny_patch16_224", model_options={"depth": 1, "embed_dim": 32, "num_heads": 2, "img_size": 32})
    torch.manual_seed(1)
    source = timm_encoder(weights="none", **opts)
    save_file(source.model.state_dict(), str(tmp_path / "w.safetensors"))
    torch.manual_seed(2)
    loaded = timm_encoder(weights=str(tmp_path / "w.safetensors"), **opts).eval()
    x = torch.randn(1, 3, 32, 32)
    assert loaded.num_tokens == 4
    torch.testing.assert_close(loaded(x), source.eval()(x))


def test_timm_weights_that_do_not_fit_are_rejected(tmp_path):
    torch.save({"foo": torch.zeros(1)}, tmp_path / "w.pth")
    with pytest.raises(ValueError, match="do not fit"):
        timm_encoder(model="resnet10t", weights=str(tmp_path / "w.pth"))


def test_timm_cnn_pools_its_feature_map():
    enc = timm_encoder(model="resnet10t", weights="none", image_size=96, pool_to=2)
    assert (enc.num_tokens, enc.grid, enc.hidden_size) == (4, (2, 2), 512)
    assert enc.image_transform.mean == pytest.approx((0.485, 0.456, 0.406))  # timm's data config
    assert enc(torch.randn(1, 3, 96, 96)).shape == (1, 4, 512)


def _old_transform(t, image):
    """ImageTransform.__call__ before the fused uint8 -> float copy (the reference)."""
    import numpy as np
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    if t.resize == "pad" and w != h:
        canvas = Image.new("RGB", (max(w, h),) * 2, tuple(int(round(m * 255)) for m in t.mean))
        canvas.paste(image, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
        image = canvas
    if image.size != (t.size, t.size):
        image = image.resize((t.size, t.size), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)
    scale, offset = (1.0 / (255.0 * torch.tensor(t.std))).view(3, 1, 1), (torch.tensor(t.mean) / torch.tensor(t.std)).view(3, 1, 1)
    return x.float().mul_(scale).sub_(offset)


@pytest.mark.parametrize("resize", ["pad", "squash"])
@pytest.mark.parametrize("mode,size", [("RGB", (48, 30)), ("RGB", (30, 48)), ("RGB", (48, 31)), ("RGB", (48, 48)), ("RGB", (100, 61)),
                                       ("L", (40, 48)), ("RGBA", (48, 20)), ("P", (17, 17))])
def test_image_transform_is_bit_for_bit_the_previous_path(mode, size, resize):
    """Tolerance 0: the fused copy, the padding written into the tensor (a side already at the output
    size) and the cached constants do the same float32 operations as before."""
    import numpy as np
    from PIL import Image

    from vlmkit.model.vision.base import ImageTransform

    rng = np.random.default_rng(sum(size))
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)).convert(mode)
    t = ImageTransform(48, (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711), resize)
    ours = t(image)
    assert ours.dtype == torch.float32 and ours.shape == (3, 48, 48) and ours.is_contiguous()
    assert torch.equal(ours, _old_transform(t, image))


@pytest.mark.parametrize("factory, make", [(clip, save_clip), (siglip, save_siglip)])
def test_random_init_tower_has_real_weights_not_the_checkpoints(tmp_path, factory, make):
    folder = make(tmp_path)
    enc = factory(pretrained=str(folder), random_init=True)
    ref = factory(pretrained=str(folder))
    assert not any(p.is_meta for p in enc.parameters())
    mine, theirs = dict(enc.named_parameters()), dict(ref.named_parameters())
    assert mine.keys() == theirs.keys()
    assert any(not torch.equal(mine[k], theirs[k]) for k in mine if k.endswith("q_proj.weight"))
    assert enc(torch.randn(1, 3, 32, 32)).shape == ref(torch.randn(1, 3, 32, 32)).shape
