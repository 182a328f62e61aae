"""Chat templates: one tokenization per conversation, generation prompts that are exact prefixes
of the training text and ids (turn by turn == whole), and loss exactly on assistant content."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import encoder
from vlmkit.data.tokenize import Rendered, tokenize_rendered
from vlmkit.data.tokenize.chat_templates import get_chat_template

TEMPLATES = ["chatml", "vicuna_v1", "llama_2", "llama_3", "tokenizer"]
# content that does not start or end with white space (templates put fixed white space around it)
words = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs", "Cc", "Co", "Cn", "Z")) | st.sampled_from("😀🎉👍"), min_size=1, max_size=12)
content = st.lists(words, min_size=1, max_size=4).map(" ".join).filter(lambda s: "<image>" not in s)


@st.composite
def conversations(draw):
    n = draw(st.integers(1, 3))
    msgs = [{"role": "system", "content": draw(content)}] if draw(st.booleans()) else []
    for _ in range(n):
        msgs += [{"role": "user", "content": draw(content)}, {"role": "assistant", "content": draw(content)}]
    return msgs


HYP = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("template", TEMPLATES)
@HYP
@given(msgs=conversations())
def test_turn_by_turn_equals_whole(any_tokenizer, template, msgs):
    """At every assistant turn, the generation prompt for the conversation so far is exactly the
    start of the whole conversation, as text and as ids; the loss starts right after it."""
    # Llama-3 headers end in "\n\n", which only Llama-3's own pre-tokenizer keeps whole; with a
    # foreign BPE the texts still match but the ids may merge across the boundary
    ids_prefix = not (template == "llama_3" and "<|eot_id|>" not in any_tokenizer.get_vocab())
    enc = encoder(any_tokenizer, template)
    whole = enc.encode("conversations", {"messages": msgs})
    chat = enc.chat_template.render(msgs)
    for turn, (start, _) in zip([i for i, m in enumerate(msgs) if m["role"] == "assistant"], chat.targets):
        prompt_text = enc.chat_template.render(msgs[:turn], add_generation_prompt=True).text
        assert chat.text[:start] == prompt_text
        prompt = enc.encode_prompt(msgs[:turn])
        if not ids_prefix:
            continue
        assert whole["input_ids"][: len(prompt)] == prompt
        assert whole["labels"][len(prompt)] != -100  # the first answer token is learned


@pytest.mark.parametrize("template", TEMPLATES)
@HYP
@given(msgs=conversations())
def test_loss_tokens_are_the_assistant_turns(any_tokenizer, template, msgs):
    """Ids come from one tokenization of the rendered text; the tokens with loss decode to the
    assistant contents with their end-of-turn markers, and nothing else."""
    tok = any_tokenizer
    # characters the tokenizer itself cannot round-trip (GGUF vocab gaps) are out of scope
    assume(all(tok.decode(tok(m["content"], add_special_tokens=False)["input_ids"], clean_up_tokenization_spaces=False) == m["content"] for m in msgs))
    enc = encoder(tok, template)
    s = enc.encode("conversations", {"messages": msgs})
    chat = enc.chat_template.render(msgs)
    assert s["input_ids"] == tok(chat.text, add_special_tokens=False)["input_ids"]
    assert s["labels"] == [t if lab != -100 else -100 for t, lab in zip(s["input_ids"], s["labels"])]
    learned = tok.decode([lab for lab in s["labels"] if lab != -100], clean_up_tokenization_spaces=False)
    for m in msgs:
        if m["role"] == "assistant":
            assert m["content"] in learned
    # where token boundaries fall on the span edges, the learned text is exactly the spans
    offsets = tok(chat.text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    edges = {a for a, _ in offsets} | {b for _, b in offsets}
    aligned = all(a in edges and b in edges for a, b in chat.targets)
    assert aligned or (template == "llama_3" and "<|eot_id|>" not in tok.get_vocab())
    if aligned:
        assert learned == "".join(chat.text[a:b] for a, b in chat.targets)


def test_template_texts(tiny_tok):
    msgs = [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]
    eos = tiny_tok.eos_token
    expected = {
        "chatml": f"<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n",
        "vicuna_v1": "A chat between a curious user and an artificial intelligence assistant. The assistant "
                     f"gives helpful, detailed, and polite answers to the user's questions. USER: u ASSISTANT: a{eos}",
        "llama_2": f"[INST] u [/INST] a {eos}",
        "llama_3": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nu<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\na<|eot_id|>",
    }
    for name, text in expected.items():
        assert get_chat_template(name, tiny_tok).render(msgs).text == text
    sys_msgs = [{"role": "system", "content": "S"}, *msgs]
    assert get_chat_template("llama_2", tiny_tok).render(sys_msgs).text == f"[INST] <<SYS>>\nS\n<</SYS>>\n\nu [/INST] a {eos}"


def test_tokenizer_template_needs_one(tiny_tok):
    tok = tiny_tok.__class__(tokenizer_object=tiny_tok.backend_tokenizer, eos_token=tiny_tok.eos_token)
    tok.chat_template = None
    with pytest.raises(ValueError, match="no chat template; set model.chat_template"):
        get_chat_template("tokenizer", tok)


def test_offsets_straddling_a_span_carry_loss(smol_tokenizer):
    """A token that overlaps a loss span at all carries loss; one fully outside does not."""
    def learned(text, spans, n_images=0):
        rendered = Rendered(text, spans, tuple(range(n_images)))
        ids, labels = tokenize_rendered(smol_tokenizer, rendered, image_token_id=999, num_image_tokens=2)
        return [(t, lab != -100) for t, lab in zip(ids, labels)]

    assert [f for _, f in learned("hello world", ((8, 11),))] == [False, True]  # "rld" inside " world"
    assert [f for _, f in learned("hello world", ((0, 2),))] == [True, False]
    assert learned("hi<image> you", ((9, 13),), 1)[1:3] == [(999, False), (999, False)]
    assert [f for _, f in learned("hi<image> you", ((9, 13),), 1)] == [False, False, False, True]
