"""The lmms-eval bridge's request handling, without lmms-eval installed: requests shaped as
lmms-eval's ``Instance.args``, a ``task_dict`` as its evaluator fills it, and replies and
log-likelihoods checked against vlmkit's own generation and scoring."""

from __future__ import annotations

import sys
import types
from abc import ABC, abstractmethod
from types import SimpleNamespace

import pytest
import torch

from vlmkit.data.tokenize import encode_prompt
from vlmkit.eval.generate import GenerationConfig, generate
from vlmkit.eval.likelihood import continuation_logprobs
from vlmkit.eval.lmms_bridge import LMMSBridge, cut
from vlmkit.testing.tiny_vlm import random_images

IMAGES = random_images(3, seed=4)
DOCS = {"mme": {"test": [{"image": IMAGES[0], "q": "Is it red?"}, {"image": IMAGES[1], "q": "Two?"}], "video": [{"clip": "a.mp4"}]}}


def request(*args):
    return SimpleNamespace(args=args)


def to_visual(doc):
    return [doc["image"]]


@pytest.fixture
def bridge(tiny_vlm):
    b = LMMSBridge(model=tiny_vlm, chat_template="chatml")
    b.task_dict = DOCS
    return b


def vlmkit_reply(model, question, image, max_new_tokens):
    prompt = encode_prompt(model, [{"role": "user", "content": question}], [image], chat_template="chatml")
    (reply,) = generate(model, [prompt], [[model.image_transform(image)]], GenerationConfig(max_new_tokens=max_new_tokens))
    return prompt, reply.text


def test_generate_until_answers_each_request_as_vlmkit_generates(bridge, tiny_vlm):
    requests = [request(d["q"], {"max_new_tokens": 6, "temperature": 0, "num_beams": 1}, to_visual, i, "mme", "test")
                for i, d in enumerate(DOCS["mme"]["test"])]
    replies = bridge.generate_until(requests)
    assert replies == [vlmkit_reply(tiny_vlm, d["q"], d["image"], 6)[1] for d in DOCS["mme"]["test"]]


def test_batches_group_consecutive_requests_with_the_same_settings(tiny_vlm):
    from vlmkit.eval.lmms_bridge import batches

    greedy, short = {"max_new_tokens": 4}, {"max_new_tokens": 2}
    args = [("a", greedy), ("b", greedy), ("c", greedy), ("d", short), ("e", greedy)]
    assert [[a[0] for a in b] for b in batches(args, 2)] == [["a", "b"], ["c"], ["d"], ["e"]]
    bridge = LMMSBridge(model=tiny_vlm, chat_template="chatml", batch_size=2)
    bridge.task_dict = DOCS
    requests = [request(d["q"], {"max_new_tokens": 6}, to_visual, i, "mme", "test") for i, d in enumerate(DOCS["mme"]["test"])]
    assert bridge.generate_until(requests) == [vlmkit_reply(tiny_vlm, d["q"], d["image"], 6)[1] for d in DOCS["mme"]["test"]]


def test_until_cuts_the_reply_before_the_first_stop_string(bridge, tiny_vlm):
    full = vlmkit_reply(tiny_vlm, "Is it red?", IMAGES[0], 12)[1]
    stop = full[3:5]
    assert stop and stop not in full[:3]
    (reply,) = bridge.generate_until([request("Is it red?", {"max_new_tokens": 12, "until": [stop, "\x00never"]}, to_visual, 0, "mme", "test")])
    assert reply == full[: full.index(stop)] == cut(full, [stop])


def greedy_continuation(model, image, n=6):
    """``(question, prompt ids, text)``: a question whose greedy reply begins with tokens that
    survive decoding (a random byte-level model often starts with a partial UTF-8 character)."""
    for i in range(64):
        question = f"Question {i}?"
        prompt = encode_prompt(model, [{"role": "user", "content": question}], [image], chat_template="chatml")
        (reply,) = generate(model, [prompt], [[model.image_transform(image)]], GenerationConfig(max_new_tokens=n))
        for k in range(len(reply.token_ids), 0, -1):
            text = model.tokenizer.decode(reply.token_ids[:k])
            if model.tokenizer(text, add_special_tokens=False)["input_ids"] == reply.token_ids[:k]:
                return question, prompt, text
    raise AssertionError("no greedy reply survives decoding")


def test_loglikelihood_is_the_continuation_scored_after_the_prompt(bridge, tiny_vlm):
    question, prompt, greedy = greedy_continuation(tiny_vlm, IMAGES[1])
    other = "zq" if not greedy.startswith("zq") else "qz"
    results = bridge.loglikelihood([request(question, greedy, to_visual, 1, "mme", "test"),
                                    request(question, lambda doc: other, to_visual, 1, "mme", "test")])
    expected = continuation_logprobs(tiny_vlm, prompt, [tiny_vlm.tokenizer(c, add_special_tokens=False)["input_ids"] for c in (greedy, other)],
                                     [tiny_vlm.image_transform(IMAGES[1]).double()])
    assert [r[0] for r in results] == pytest.approx(expected, rel=1e-6)
    assert results[0][1] is True and results[1][1] is False  # what greedy decoding produced is greedy; "zq" is not


def test_requests_vlmkit_cannot_serve_are_refused_by_name(bridge):
    with pytest.raises(ValueError, match="num_beams=3"):
        bridge.generate_until([request("q", {"num_beams": 3}, to_visual, 0, "mme", "test")])
    with pytest.raises(ValueError, match="document 7 of mme/test: not in task_dict"):
        bridge.generate_until([request("q", {}, to_visual, 7, "mme", "test")])
    with pytest.raises(ValueError, match="task 'mme' gives str visuals; vlmkit models take images"):
        bridge.generate_until([request("q", {}, lambda doc: [doc["clip"]], 0, "mme", "video")])
    with pytest.raises(NotImplementedError, match="single-round"):
        bridge.generate_until_multi_round([])


def test_generation_settings_map_from_gen_kwargs(bridge):
    config, until = bridge.generation_config({"until": "\n\n", "max_new_tokens": 5, "temperature": 0.7, "top_p": None})
    assert until == ["\n\n"] and config.stop == ("\n\n",) and config.max_new_tokens == 5
    assert config.do_sample and config.temperature == 0.7 and config.top_p == 1.0
    greedy, _ = bridge.generation_config({})
    assert not greedy.do_sample and greedy.max_new_tokens == 1024


def test_images_nested_in_lists_are_flattened_and_text_only_requests_work(bridge, tiny_vlm):
    assert bridge.visuals(lambda doc: [[doc["image"]], None], "mme", "test", 0) == [IMAGES[0]]
    (reply,) = bridge.generate_until([request("Say hi", {"max_new_tokens": 3}, None, 0, "mme", "test")])
    prompt = encode_prompt(tiny_vlm, [{"role": "user", "content": "Say hi"}], [], chat_template="chatml")
    assert reply == generate(tiny_vlm, [prompt], [[]], GenerationConfig(max_new_tokens=3))[0].text


def test_the_lmms_subclass_fulfils_lmms_evals_abstract_model(tiny_vlm, monkeypatch):
    """``vlmkit.eval.lmms_model`` against a stand-in with lmms-eval 0.7's ``lmms`` contract (three
    abstract methods; ``__init__`` sets ``task_dict``), since lmms-eval is an optional extra."""

    class lmms(ABC):  # noqa: N801 (lmms-eval's name)
        def __init__(self):
            self.task_dict = {}

        @abstractmethod
        def loglikelihood(self, requests): ...

        @abstractmethod
        def generate_until(self, requests): ...

        @abstractmethod
        def generate_until_multi_round(self, requests): ...

    api = types.ModuleType("lmms_eval.api.model")
    api.lmms = lmms
    for name in ("lmms_eval", "lmms_eval.api"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "lmms_eval.api.model", api)
    monkeypatch.delitem(sys.modules, "vlmkit.eval.lmms_model", raising=False)
    from vlmkit.eval.lmms_model import VlmkitLMMS

    model = VlmkitLMMS(model=tiny_vlm, chat_template="chatml")
    assert isinstance(model, lmms) and model.task_dict == {}
    model.task_dict = DOCS
    assert model.generate_until([request("Two?", {"max_new_tokens": 4}, to_visual, 1, "mme", "test")]) == [
        vlmkit_reply(tiny_vlm, "Two?", IMAGES[1], 4)[1]]
