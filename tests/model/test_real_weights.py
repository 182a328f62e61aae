"""Real pretrained weights shipped in packages: EfficientNet-Lite0 (ImageNet) and SmolLM2-135M-Instruct."""

import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from vlmkit.model.vision.efficientnet_lite0 import classifier, efficientnet_lite0

CATS = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {504, 967, 968}  # coffee mug, espresso, cup


def test_encoder_tokens_are_the_classifier_features():
    """Averaging the un-pooled 4x4 tokens and applying the ImageNet head reproduces the classifier."""
    net = classifier()
    enc = efficientnet_lite0(image_size=128, pool_to=None).eval()
    assert (enc.num_tokens, enc.grid, enc.hidden_size) == (16, (4, 4), 1280)
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(net.classifier(enc(x).mean(1)), net(x), atol=1e-4, rtol=1e-4)


def test_a_cnn_tower_runs_channels_last_with_the_same_tokens():
    """The encoder hands its CNN channels-last pixels (faster on CPUs); NCHW gives the same tokens."""
    enc = efficientnet_lite0().eval()
    assert enc.channels_last
    x = torch.randn(3, 3, 128, 128)
    seen = []
    hook = enc.model.conv_stem.register_forward_pre_hook(lambda m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    with torch.no_grad():
        fast = enc(x)
        enc.channels_last = False
        plain = enc(x)
    hook.remove()
    assert seen == [True, False]
    torch.testing.assert_close(fast, plain, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("photo, classes", [("chelsea", CATS), ("coffee", COFFEE)])
def test_efficientnet_classifies_bundled_photos(photo, classes):
    import skimage.data

    net = classifier()
    transform = efficientnet_lite0(image_size=224).image_transform
    image = Image.fromarray(getattr(skimage.data, photo)())
    with torch.no_grad():
        top5 = net(transform(image)[None]).topk(5).indices[0].tolist()
    assert top5[0] in classes and set(top5) & classes, top5


@pytest.fixture(scope="module")
def smollm2(request):
    cache = os.environ.get("VLMKIT_CACHE") or str(Path(request.config.cache.mkdir("vlmkit-cache")))
    mp = pytest.MonkeyPatch()
    mp.setenv("VLMKIT_CACHE", cache)
    from vlmkit.model.llm.smollm2 import smollm2_135m

    yield smollm2_135m().eval()
    mp.undo()


@pytest.mark.slow
def test_smollm2_knows_the_capital_of_france(smollm2):
    tok = smollm2.tokenizer
    ids = tok("The capital of France is", return_tensors="pt", add_special_tokens=False).input_ids
    new = smollm2.generate(smollm2.embed(ids), torch.ones_like(ids), max_new_tokens=4, do_sample=False)
    assert "Paris" in tok.decode(new[0])


@pytest.mark.slow
def test_smollm2_cache_is_ready_for_vlm_use(smollm2):
    tok = smollm2.tokenizer
    assert (smollm2.hidden_size, smollm2.vocab_size, smollm2.image_token_id) == (576, 49153, 49152)
    assert tok.eos_token == tok.pad_token == "<|im_end|>"
    assert tok("hi").input_ids[0] == tok.convert_tokens_to_ids("<|im_start|>")  # prepended unless add_special_tokens=False
    assert tok("hi", add_special_tokens=False).input_ids == tok.encode("hi", add_special_tokens=False)
