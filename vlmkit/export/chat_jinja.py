"""A vlmkit chat template as the jinja string transformers renders (``tokenizer.chat_template``,
``processor.chat_template``), so an exported folder prompts the model the way it was trained.

``jinja_template(template)`` dispatches on the template's class (``functools.singledispatch``); a
plugin whose template should survive a ``llava-hf`` export registers its own with
``jinja_template.register(MyTemplate)``. The built-in formats embed the tokenizer's BOS/EOS text
as literals, exactly as their Python rendering does.

Message content may be a string (``"<image>\\nWhat is this?"``) or transformers' list form
(``[{"type": "image"}, {"type": "text", "text": "What is this?"}]``); an image part becomes
``<image>\\n``, which the Llava processor expands to the image's tokens.

transformers renders with ``trim_blocks`` and ``lstrip_blocks``, so every template below is a
single line and newlines appear only inside string literals.
"""

from __future__ import annotations

import json
from functools import singledispatch

from vlmkit.data.tokenize.chat_templates.base import ChatTemplate
from vlmkit.data.tokenize.chat_templates.formats import VICUNA_SYSTEM, ChatML, Llama2, Llama3, VicunaV1
from vlmkit.data.tokenize.chat_templates.jinja import TokenizerTemplate

# ``text(c)``: a message's content as one string (see the module doc).
CONTENT = (
    "{% macro text(c) %}{% if c is string %}{{ c }}{% else %}{% for p in c %}"
    "{% if p['type'] == 'image' %}{{ '<image>\\n' }}{% else %}{{ p['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{% endmacro %}"
)


def literal(text: str) -> str:
    """``text`` as a jinja string literal (JSON escaping is valid jinja for these strings)."""
    return json.dumps(text)


@singledispatch
def jinja_template(template: ChatTemplate) -> str:
    """The jinja chat template rendering like ``template`` (``render(...).text``)."""
    raise ValueError(
        f"chat template {type(template).__name__} has no jinja equivalent for the exported processor; "
        "register one with vlmkit.export.chat_jinja.jinja_template.register(YourTemplate)"
    )


@jinja_template.register
def _(template: TokenizerTemplate) -> str:
    return template.tokenizer.chat_template


@jinja_template.register
def _(template: VicunaV1) -> str:
    return CONTENT + (
        "{% if messages and messages[0]['role'] == 'system' %}{% set system = text(messages[0]['content']) %}"
        "{% set turns = messages[1:] %}{% else %}{% set system = " + literal(VICUNA_SYSTEM) + " %}"
        "{% set turns = messages %}{% endif %}"
        "{{ " + literal(template.bos) + " + system }}"
        "{% for m in turns %}{% if m['role'] == 'user' %}{{ ' USER: ' + text(m['content']) }}"
        "{% else %}{{ ' ASSISTANT: ' + text(m['content']) + " + literal(template.eos) + " }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ ' ASSISTANT:' }}{% endif %}"
    )


@jinja_template.register
def _(template: Llama2) -> str:
    return CONTENT + (
        "{% if messages and messages[0]['role'] == 'system' %}{% set system = text(messages[0]['content']) %}"
        "{% set turns = messages[1:] %}{% else %}{% set system = '' %}{% set turns = messages %}{% endif %}"
        "{% set ns = namespace(first=true) %}"
        "{% for m in turns %}{% if m['role'] == 'user' %}"
        "{% if ns.first and system %}{% set sys = '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' %}{% else %}{% set sys = '' %}{% endif %}"
        "{{ " + literal(template.bos) + " + '[INST] ' + sys + text(m['content']) + ' [/INST]' }}{% set ns.first = false %}"
        "{% else %}{{ ' ' + text(m['content']) + ' ' + " + literal(template.eos) + " }}{% endif %}{% endfor %}"
    )


@jinja_template.register
def _(template: Llama3) -> str:
    return CONTENT + (
        "{{ '<|begin_of_text|>' }}"
        "{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + text(m['content']) + '<|eot_id|>' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
    )


@jinja_template.register
def _(template: ChatML) -> str:
    return CONTENT + (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + text(m['content']) + '<|im_end|>\\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
