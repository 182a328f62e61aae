"""The conformance kit fails on broken components: each check catches the fault it exists for."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vlmkit.model.llm.hf_backbone import HFCausalLM
from vlmkit.model.llm.tiny_llama import tiny_llama
from vlmkit.model.projectors.base import Projector
from vlmkit.model.projectors.mlp import MLPProjector
from vlmkit.testing import DataMixerConformance, LLMBackboneConformance, ProjectorConformance, VisionEncoderConformance
from vlmkit.model.vision.tiny_vit import TinyViT


class Pooling(Projector):
    """Averages token pairs; ``claims`` says what output_tokens reports."""

    def __init__(self, in_dim, out_dim, num_input_tokens, grid=None, claims=None, mix=False, unused=False, sneaky=False):
        super().__init__(in_dim, out_dim, num_input_tokens, grid)
        self.proj = nn.Linear(in_dim, out_dim)
        self.claims, self.mix, self.sneaky = claims, mix, sneaky
        if unused:
            self.spare = nn.Linear(2, 2)
        self.register_buffer("noise", torch.randn(out_dim), persistent=not sneaky)

    def output_tokens(self, num_tokens, grid):
        return self.claims if self.claims is not None else num_tokens // 2

    def forward(self, x):
        if self.mix:
            x = x - x.mean(0, keepdim=True)
        if self.sneaky:
            self.proj.weight.requires_grad_(True)
        x = x.unflatten(1, (-1, 2)).mean(2)
        return self.proj(x) + self.noise


def broken(**kwargs):
    return type("Suite", (ProjectorConformance,), {"factory": Pooling, "kwargs": kwargs, "registered_name": "mlp"})()


def test_a_correct_projector_passes_the_checks_it_needs():
    suite = broken()
    suite.test_declared_token_counts_hold()
    suite.test_images_are_projected_independently()
    suite.test_trainable_parameters_get_finite_gradients()


@pytest.mark.parametrize(
    ("kwargs", "check", "message"),
    [
        ({"claims": 5}, "test_declared_token_counts_hold", "declared"),
        ({"mix": True}, "test_images_are_projected_independently", "Tensor-likes are not close"),
        ({"unused": True}, "test_trainable_parameters_get_finite_gradients", "unused by forward"),
        ({"sneaky": True}, "test_frozen_parameters_get_no_gradient", "re-enabled requires_grad"),
        ({"sneaky": True}, "test_state_dict_round_trips", "Tensor-likes are not close"),
        ({}, "test_registered_name_resolves", "resolves to"),
    ],
)
def test_projector_faults_are_caught(kwargs, check, message, tmp_path):
    suite = broken(**kwargs)
    method = getattr(suite, check)
    with pytest.raises(AssertionError, match=message):
        method(tmp_path) if check == "test_state_dict_round_trips" else method()


def test_a_projector_that_is_not_a_projector_is_caught():
    suite = type("S", (ProjectorConformance,), {"factory": lambda **kw: nn.Linear(2, 2)})()
    with pytest.raises(AssertionError, match="must subclass vlmkit.Projector"):
        suite.test_is_a_projector()


class WrongGrid(TinyViT):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.grid = (3, 3)


def test_vision_encoder_with_a_wrong_grid_is_caught():
    suite = type("S", (VisionEncoderConformance,), {"factory": lambda load_weights=False: WrongGrid()})()
    with pytest.raises(AssertionError, match="does not hold num_tokens"):
        suite.test_declares_its_shapes()


class MaskBlind(HFCausalLM):
    """Ignores the attention mask and position ids: packed samples see each other."""

    def forward(self, inputs_embeds, attention_mask=None, position_ids=None, logits_to_keep=None):
        return super().forward(inputs_embeds, logits_to_keep=logits_to_keep)


class KeepsEverything(HFCausalLM):
    """Ignores ``logits_to_keep``: returns logits at every position."""

    def forward(self, inputs_embeds, attention_mask=None, position_ids=None, logits_to_keep=None):
        return super().forward(inputs_embeds, attention_mask, position_ids)


def wrapped_llm_suite(cls) -> LLMBackboneConformance:
    """The LLM conformance suite over ``cls`` wrapping tiny_llama's model and tokenizer."""
    def factory(load_weights=False):
        inner = tiny_llama()
        return cls(inner.model, inner.tokenizer)

    return type("S", (LLMBackboneConformance,), {"factory": factory})()


def test_llm_that_ignores_the_packed_mask_is_caught():
    suite = wrapped_llm_suite(MaskBlind)
    suite.test_is_causal()  # still causal
    with pytest.raises(AssertionError):
        suite.test_packed_samples_do_not_see_each_other()


class Inverted:
    """Gives the smallest weight to the largest share."""

    def streams(self, mixture, datasets):
        from streaming import Stream

        return [Stream(local=datasets[n].local, proportion=1 - w) for n, w in mixture.items()]


def test_mixer_faults_are_caught(tmp_path):
    from vlmkit.data.mixers.base import DataMixer

    inverted = type("InvertedMixer", (Inverted, DataMixer), {})
    suite = type("S", (DataMixerConformance,), {"factory": inverted})()
    suite.test_is_a_mixer()
    suite.test_one_stream_per_dataset(tmp_path)
    with pytest.raises(AssertionError, match="stream weights"):
        suite.test_weights_keep_their_order(tmp_path)
    not_a_mixer = type("S", (DataMixerConformance,), {"factory": Inverted})()
    with pytest.raises(AssertionError, match="must subclass"):
        not_a_mixer.test_is_a_mixer()


def test_mlp_passes_under_a_direct_factory():
    suite = type("S", (ProjectorConformance,), {"factory": MLPProjector, "registered_name": "mlp"})()
    suite.test_registered_name_resolves()


def test_llm_that_ignores_logits_to_keep_is_caught():
    suite = wrapped_llm_suite(KeepsEverything)
    suite.test_packed_samples_do_not_see_each_other()  # otherwise fine
    with pytest.raises(AssertionError, match="logits_to_keep of 3 positions"):
        suite.test_logits_to_keep_selects_positions()


class LambdaTransform(TinyViT):
    """A transform that cannot travel to DataLoader workers."""

    def __init__(self, **kw):
        super().__init__(**kw)
        transform = self.image_transform
        self.image_transform = lambda image: transform(image)


class NoGrid(TinyViT):
    """Forgets one of the four attributes the contract asks for."""

    def __init__(self, **kw):
        super().__init__(**kw)
        del self.grid


def test_an_image_transform_that_does_not_pickle_is_named_not_a_raw_error():
    suite = type("S", (VisionEncoderConformance,), {"factory": lambda load_weights=False: LambdaTransform()})()
    with pytest.raises(AssertionError, match=r"LambdaTransform.image_transform .* cannot be pickled, but DataLoader workers need it"):
        suite.test_image_transform_gives_square_tensors_and_pickles()


def test_an_encoder_missing_a_contract_attribute_is_named():
    suite = type("S", (VisionEncoderConformance,), {"factory": lambda load_weights=False: NoGrid()})()
    with pytest.raises(AssertionError, match=r"NoGrid sets no grid: assign them in __init__ after super\(\).__init__\(\)"):
        suite.test_declares_its_shapes()


def test_a_plain_function_factory_resolves_to_its_registered_name():
    """A suite attribute holding a function is not bound to the suite (it would be a method)."""
    from vlmkit.model.vision.tiny_vit import tiny_vit

    suite = type("S", (VisionEncoderConformance,), {"factory": tiny_vit, "registered_name": "tiny_vit"})()
    suite.test_registered_name_resolves()
