"""Batched KV-cache generation against the one-at-a-time uncached reference, token for token."""

import pytest
import torch
from tests.eval.conftest import prompt_ids
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlmkit.eval.generate import GenerationConfig, generate, generate_uncached, left_pad
from vlmkit.eval.likelihood import continuation_logprobs


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(st.text("abcdefgh ?", min_size=1, max_size=12), st.integers(0, 2)), min_size=1, max_size=4),
    max_new=st.integers(1, 12),
)
def test_batched_cached_greedy_equals_uncached(tiny_vlm, pixel_images, rows, max_new):
    prompts = [prompt_ids(tiny_vlm, text, n) for text, n in rows]
    images = [pixel_images[:n] for _, n in rows]  # rows differ in length: left padding is exercised
    config = GenerationConfig(max_new_tokens=max_new)
    batched = generate(tiny_vlm, prompts, images, config)
    for out, p, im in zip(batched, prompts, images):
        ref = generate_uncached(tiny_vlm, p, im, config)
        assert out.token_ids == ref.token_ids
        assert out.text == ref.text and out.finish == ref.finish
        assert len(out.token_ids) <= max_new


def test_stop_token_and_stop_string(tiny_vlm, pixel_images):
    prompt = prompt_ids(tiny_vlm, "describe", 1)
    free = generate(tiny_vlm, [prompt], [pixel_images[:1]], GenerationConfig(max_new_tokens=24))[0]
    assert free.finish == "length" and len(free.token_ids) == 24
    cut = free.token_ids[5]
    stopped = generate(tiny_vlm, [prompt], [pixel_images[:1]], GenerationConfig(max_new_tokens=24, stop_token_ids=(cut,)))[0]
    assert stopped.finish == "eos" and stopped.token_ids == free.token_ids[: free.token_ids.index(cut)]
    ascii_chars = [c for c in free.text if c.isascii() and c.isprintable()]
    assert ascii_chars, "the seeded model's reply has a printable ASCII character to stop at"
    stop = ascii_chars[len(ascii_chars) // 2]
    stopped = generate(tiny_vlm, [prompt], [pixel_images[:1]], GenerationConfig(max_new_tokens=24, stop=(stop,)))[0]
    assert stopped.finish == "stop" and stopped.text == free.text.split(stop)[0]
    assert free.text.startswith(stopped.text)


def test_sampling_is_seeded_and_top_k_one_is_greedy(tiny_vlm):
    prompts = [prompt_ids(tiny_vlm, "hello"), prompt_ids(tiny_vlm, "a longer prompt here")]
    greedy = [o.token_ids for o in generate(tiny_vlm, prompts, config=GenerationConfig(max_new_tokens=8))]
    sample = lambda **kw: [o.token_ids for o in generate(tiny_vlm, prompts, config=GenerationConfig(max_new_tokens=8, do_sample=True, **kw))]
    assert sample(top_k=1) == greedy
    assert sample(top_p=1e-9) == greedy  # the nucleus always keeps the top token
    assert sample(seed=1, temperature=2.0) == sample(seed=1, temperature=2.0)
    assert sample(seed=1, temperature=5.0) != sample(seed=2, temperature=5.0)


def test_left_pad_and_bad_settings():
    ids, mask = left_pad([[5, 6, 7], [9]], pad_id=0, device="cpu")
    assert ids.tolist() == [[5, 6, 7], [0, 0, 9]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationConfig(max_new_tokens=0)
    with pytest.raises(ValueError, match="top_p"):
        GenerationConfig(top_p=0.0)


def test_empty_prompt_is_an_error(tiny_vlm):
    assert generate(tiny_vlm, []) == []
    with pytest.raises(ValueError, match="at least one token"):
        generate(tiny_vlm, [[]])


def test_continuation_logprobs_match_a_direct_forward(tiny_vlm, pixel_images):
    prompt = prompt_ids(tiny_vlm, "Answer:", 1)
    options = [prompt_ids(tiny_vlm, " A"), prompt_ids(tiny_vlm, " yes please")]
    got = continuation_logprobs(tiny_vlm, prompt, options, pixel_images[:1])
    for option, value in zip(options, got):
        ids = torch.tensor([prompt + option])
        logp = tiny_vlm(ids, torch.stack(pixel_images[:1])).logits.log_softmax(-1)[0]
        expected = sum(float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(option))
        assert value == pytest.approx(expected, abs=1e-5)  # scored in float32
