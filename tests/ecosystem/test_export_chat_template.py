"""The recipe's chat template travels with a ``llava-hf`` export as jinja: transformers renders
exactly what vlmkit's Python template renders, so the folder is prompted as the model was trained."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmkit.export.chat_jinja import jinja_template
from vlmkit.data.tokenize.chat_templates import get_chat_template
from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer

TEMPLATES = ("vicuna_v1", "llama_2", "llama_3", "chatml", "tokenizer")
TOKENIZER = tiny_tokenizer()
content = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


@st.composite
def conversations(draw, generation: bool):
    """An optional system message, then alternating user/assistant turns (ending on a user turn
    when a generation prompt follows)."""
    turns = draw(st.integers(1, 3))
    messages = [{"role": "system", "content": draw(content)}] if draw(st.booleans()) else []
    for _ in range(turns):
        messages.append({"role": "user", "content": draw(content)})
        messages.append({"role": "assistant", "content": draw(content)})
    return messages[:-1] if generation else messages


def bound(name: str):
    template = get_chat_template(name, TOKENIZER)
    if hasattr(template, "bos"):
        template.bos = "<s>"  # a BOS text, as Llama tokenizers give, must be rendered too
    return template


@pytest.mark.parametrize("name", TEMPLATES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_jinja_renders_exactly_like_the_template(name, data):
    generation = data.draw(st.booleans())
    messages = data.draw(conversations(generation))
    template = bound(name)
    if name == "tokenizer":  # the tiny tokenizer's ChatML knows no system default: same output either way
        messages = [m for m in messages if m["role"] != "system"]
    ours = template.render(messages, add_generation_prompt=generation).text
    theirs = TOKENIZER.apply_chat_template(messages, chat_template=jinja_template(template), tokenize=False,
                                           add_generation_prompt=generation)
    assert theirs == ours


def test_list_content_puts_an_image_marker_where_the_image_part_is():
    template = bound("vicuna_v1")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
    theirs = TOKENIZER.apply_chat_template(messages, chat_template=jinja_template(template), tokenize=False,
                                           add_generation_prompt=True)
    assert theirs == template.render([{"role": "user", "content": "<image>\nWhat is it?"}], add_generation_prompt=True).text


def test_a_template_without_a_jinja_form_is_refused_by_name():
    from vlmkit.data.tokenize.chat_templates import ChatTemplate

    class Custom(ChatTemplate):
        def render(self, messages, add_generation_prompt=False):
            raise NotImplementedError

    with pytest.raises(ValueError, match="chat template Custom has no jinja equivalent.*jinja_template.register"):
        jinja_template(Custom())
