"""Generation through the backbone interface (issue #18 item 2): HF backbones decode with Hugging
Face ``generate``, any other backbone with vlmkit's loop over ``LLMBackbone.decode``; both reply
token for token as the loop and the uncached reference do."""

import copy
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.eval.conftest import prompt_ids
from tests.model.minimal_llm import MinimalLLM
from vlmkit.eval.generate import GenerationConfig, generate, generate_uncached


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(st.text("abcdefgh ?", min_size=1, max_size=12), st.integers(0, 2)), min_size=1, max_size=3),
    max_new=st.integers(1, 10),
    stop_at=st.integers(0, 300),
)
def test_hf_generate_and_the_decode_loop_reply_alike(tiny_vlm, pixel_images, rows, max_new, stop_at):
    prompts = [prompt_ids(tiny_vlm, text, n) for text, n in rows]
    images = [pixel_images[:n] for _, n in rows]
    config = GenerationConfig(max_new_tokens=max_new, stop_token_ids=(stop_at,))
    hf = tiny_vlm.llm.model
    with mock.patch.object(hf, "generate", wraps=hf.generate) as spy:
        by_hf = generate(tiny_vlm, prompts, images, config)
    # the HF backbone decoded with Hugging Face generate, except from a one-position batch (see HFCausalLM.generate)
    assert spy.call_count == int(max(map(len, prompts)) > 1)
    with mock.patch.object(hf, "generate", side_effect=AssertionError("native=False must not call HF generate")):
        by_loop = generate(tiny_vlm, prompts, images, config, native=False)
    assert [(o.token_ids, o.text, o.finish) for o in by_hf] == [(o.token_ids, o.text, o.finish) for o in by_loop]


def test_a_one_token_prompt_gets_the_reference_reply(tiny_vlm):
    """transformers' generate re-feeds a one-position prompt at step two; vlmkit's loop answers it."""
    prompt = prompt_ids(tiny_vlm, "?")
    assert len(prompt) == 1
    config = GenerationConfig(max_new_tokens=4)
    assert generate(tiny_vlm, [prompt], config=config)[0].token_ids == generate_uncached(tiny_vlm, prompt, (), config).token_ids


@pytest.fixture(scope="module")
def minimal_vlm(tiny_vlm):
    model = copy.deepcopy(tiny_vlm)
    model.llm = MinimalLLM(model.llm)
    return model


def test_a_backbone_without_decoding_methods_still_generates(minimal_vlm, pixel_images):
    """A backbone with only ``embed``/``forward`` goes through the default ``decode`` (which
    recomputes) and gives the uncached reference's replies, stop strings included."""
    prompts = [prompt_ids(minimal_vlm, "describe", 1), prompt_ids(minimal_vlm, "hi", 0)]
    images = [pixel_images[:1], []]
    for config in (GenerationConfig(max_new_tokens=6), GenerationConfig(max_new_tokens=6, do_sample=True, top_k=1)):
        got = generate(minimal_vlm, prompts, images, config)
        for out, p, im in zip(got, prompts, images):
            ref = generate_uncached(minimal_vlm, p, im, config)
            assert (out.token_ids, out.text, out.finish) == (ref.token_ids, ref.text, ref.finish)
