"""Shot selection (random, RICES) and prompt building (chat turns, plain text)."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from vlmkit.eval.fewshot import RandomShots, build_selector, image_embedder
from vlmkit.eval.prompts import PromptBuilder, marked
from vlmkit.eval.tasks.base import Example, Task


class PlainTask(Task):
    name = "plain"
    chat = False

    def examples(self):
        return []

    def preamble(self, example):
        return "Facts:\n"


class ChatTask(PlainTask):
    name = "chatty"
    chat = True


def support(n, group=None):
    return [Example(i, f"q{i}", [f"img{i}"], answer=f"a{i}", meta={} if group is None else {"shot_group": group(i)}) for i in range(n)]


@given(st.integers(0, 10_000), st.integers(0, 5), st.integers(0, 19))
def test_random_shots_seeded_distinct_and_never_the_query(seed, k, index):
    pool = support(20)
    query = pool[index]
    a = RandomShots(pool, k, seed).select(index, query)
    assert a == RandomShots(pool, k, seed).select(index, query)  # reproducible
    assert len(a) == k and len({s.id for s in a}) == k and query.id not in {s.id for s in a}


def test_random_shots_vary_with_seed_and_respect_groups():
    pool = support(30, group=lambda i: i % 3)
    query = Example("q", "x", meta={"shot_group": 1})
    draws = {tuple(s.id for s in RandomShots(pool, 4, seed).select(0, query)) for seed in range(5)}
    assert len(draws) > 1
    assert all(s.meta["shot_group"] == 1 for s in RandomShots(pool, 4, 0).select(0, query))
    with pytest.raises(ValueError, match="only 10 support"):
        RandomShots(pool, 11, 0).select(0, query)


def test_rices_picks_most_similar_last():
    # embeddings: support i -> direction i; the query lies closest to 2, then 0, then 1
    basis = torch.eye(4)
    vectors = {f"img{i}": basis[i] for i in range(4)}
    vectors["query"] = torch.nn.functional.normalize(torch.tensor([0.5, 0.1, 0.9, 0.0]), dim=0)
    embed = lambda examples: torch.stack([vectors[e.images[0]] for e in examples])
    selector = build_selector("rices", support(4), 3, embed=embed)
    picked = selector.select(0, Example("q", "x", ["query"]))
    assert [s.id for s in picked] == [1, 0, 2]
    with pytest.raises(ValueError, match="unknown shot selection"):
        build_selector("nearest", support(4), 1)
    with pytest.raises(ValueError, match="needs an image embedder"):
        build_selector("rices", support(4), 1)


def test_image_embedder_finds_the_same_image(tiny_vlm, pixel_images):
    embed = image_embedder(tiny_vlm, lambda src: pixel_images[src], batch_size=2)
    pool = [Example(i, "q", [i]) for i in range(4)]
    feats = embed(pool)
    assert feats.shape == (4, tiny_vlm.vision_encoder.hidden_size)
    assert torch.allclose(feats.norm(dim=-1), torch.ones(4, dtype=feats.dtype))
    picked = build_selector("rices", pool, 1, embed=embed).select(0, Example("query", "q", [2]))
    assert [s.id for s in picked] == [2]


def test_chat_prompt_interleaves_shots_as_turns(tiny_vlm):
    builder = PromptBuilder(tiny_vlm, "chatml")
    shots = [Example(1, "What is this?", ["s1"], answer="a dax"), Example(2, "What is this?", ["s2"], answer="a wug")]
    query = Example(3, "What is this?", ["q"])
    ids, images = builder.encode(ChatTask(), query, shots)
    assert images == ["s1", "s2", "q"]
    k = tiny_vlm.num_image_tokens
    assert ids.count(tiny_vlm.image_token_id) == 3 * k
    text = tiny_vlm.tokenizer.decode([t for t in ids if t != tiny_vlm.image_token_id])
    assert text.index("a dax") < text.index("a wug") < text.rindex("What is this?")
    assert text.count("<|im_start|>assistant") == 3 and text.endswith("<|im_start|>assistant\n")


def test_plain_prompt_concatenates_with_preamble(tiny_vlm):
    builder = PromptBuilder(tiny_vlm)
    shots = [Example(1, "2+2=", answer=" 4")]
    ids, images = builder.encode(PlainTask(), Example(2, "3+3="), shots)
    assert images == []
    assert tiny_vlm.tokenizer.decode(ids) == "Facts:\n2+2= 4\n\n3+3="


def test_markers():
    assert marked(Example(1, "look", ["a", "b"])) == "<image>\n<image>\nlook"
    assert marked(Example(1, "<image> then <image>", ["a", "b"])) == "<image> then <image>"
    with pytest.raises(ValueError, match="1 <image> marker"):
        marked(Example(1, "<image> only one", ["a", "b"]))
    with pytest.raises(ValueError, match="no answer"):
        PromptBuilder.messages(None, Example(2, "q"), [Example(1, "q")])
