"""What callers ask of a backbone is on its interface (issue #18 item 2): ``layers()`` is the one
answer to "the decoder layers" for freezing, FSDP2/checkpointing blocks, FLOPs and planning; the
attention shape and vocabulary come from the backbone; backbones without the new methods keep
working through the defaults."""

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tests.model.minimal_llm import MinimalLLM, minimal_llm
from vlmkit.model.llm.base import AttentionShape
from vlmkit.model.llm.tiny_llama import tiny_llama
from vlmkit.model.vision.hf_tower import CLIP_MEAN, CLIP_STD, HFVisionTower
from vlmkit.model.vision.transform import image_transform
from vlmkit.model.vlm import build_vlm
from vlmkit.testing import LLMBackboneConformance
from vlmkit.train.flops import flop_model, llm_attention_shape
from vlmkit.train.freezing import layer_stack, set_trainable
from vlmkit.train.parallel import blocks

TINY = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}, "llm": {"name": "tiny_llama"}}


MINIMAL_SUITE = type("MinimalSuite", (LLMBackboneConformance,), {"factory": staticmethod(minimal_llm)})


@pytest.mark.parametrize("check", ["test_layers_attention_shape_and_vocab_size", "test_cached_decode_matches_forward",
                                   "test_works_inside_a_tiny_vlm"])
def test_the_new_conformance_checks_pass_on_the_defaults(check):
    """A backbone with only ``embed``/``forward`` (unregistered, so the name check is left out)."""
    getattr(MINIMAL_SUITE(), check)()


def test_every_caller_uses_the_same_layers():
    model = build_vlm(TINY)
    llm_layers, vision_layers = model.llm.layers(), model.vision_encoder.layers()
    assert llm_layers is model.llm.model.model.layers and vision_layers is model.vision_encoder.blocks.layers
    assert blocks(model) == set(llm_layers) | set(vision_layers)
    assert layer_stack(model.llm) is llm_layers
    set_trainable(model, ["llm"], llm_layers=1)
    trained = {name for name, p in model.llm.named_parameters() if p.requires_grad}
    assert trained == {f"model.model.layers.1.{name}" for name, _ in llm_layers[1].named_parameters()}
    assert flop_model(model).llm_grad_layers == 1  # the FLOP walk sees the same stack: one layer with gradients


@settings(max_examples=5, deadline=None)
@given(kv=st.sampled_from([1, 2, 4]), layers=st.integers(1, 3), head_dim=st.sampled_from([8, 16]))
def test_attention_shape_comes_from_the_hf_config(kv, layers, head_dim):
    llm = tiny_llama(hidden_size=4 * head_dim, num_heads=4, num_kv_heads=kv, num_layers=layers)
    assert llm.attention_shape() == AttentionShape(layers, 4, kv, head_dim)
    assert llm_attention_shape(llm) == (layers, 4 * head_dim) and len(llm.layers()) == layers
    assert llm.vocab_size == len(llm.tokenizer) == llm.lm_head.out_features


class Stackless(MinimalLLM):
    """A backbone whose layers are not a ModuleList, reporting the old 2-tuple attention shape."""

    def __init__(self) -> None:
        super().__init__(tiny_llama())
        self.inner.model.model.layers = nn.Sequential(*self.inner.model.model.layers)

    def attention_shape(self):
        return (2, 64)


def test_a_backbone_without_a_layer_stack_or_with_the_old_shape():
    llm = Stackless()
    assert len(llm.layers()) == 0 and blocks(llm) == set()
    with pytest.raises(ValueError, match="no stack of layers, so llm_trainable_layers cannot apply"):
        layer_stack(llm)
    with pytest.warns(DeprecationWarning, match="AttentionShape"):
        assert llm_attention_shape(llm) == (2, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert llm_attention_shape(minimal_llm()) == (0, 0)  # unknown: attention not counted


def test_the_tower_drops_its_post_layernorm_wherever_it_is_built():
    """Build, export reload and llava import all construct HFVisionTower, which owns the surgery."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8)
    model = CLIPVisionModel(config)
    tower = HFVisionTower(model, True, "patch", 32, image_transform(32, CLIP_MEAN, CLIP_STD, "pad"))
    assert isinstance(model.vision_model.post_layernorm, nn.Identity)
    assert tower.layers() is model.vision_model.encoder.layers
    assert tower(torch.zeros(1, 3, 32, 32)).shape == (1, 16, 16)


def test_timm_blocks_are_the_encoder_layers():
    from vlmkit.model.vision.timm_encoder import timm_encoder

    enc = timm_encoder(load_weights=False, model="vit_tiny_patch16_224", image_size=32, model_options={"depth": 3})
    assert list(enc.layers()) == list(enc.model.blocks) and len(enc.layers()) == 3
    assert set(enc.layers()) <= blocks(enc)


def test_the_plugin_page_documents_every_backbone_member():
    from pathlib import Path

    from vlmkit.model.llm.base import LLMBackbone
    from vlmkit.model.vision.base import VisionEncoder

    page = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    members = {name for cls in (LLMBackbone, VisionEncoder) for name in vars(cls)
               if not name.startswith("_") and name not in ("forward", "embed")}
    missing = sorted(m for m in members if f"`{m}`" not in page and f"`{m}(" not in page)
    assert not missing, f"docs/plugins.md does not document {missing}"
