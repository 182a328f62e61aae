"""The classic chat formats: ``vicuna_v1`` (VILA/LLaVA v1), ``llama_2``, ``llama_3``, ``chatml``.

Each is a :class:`TurnTemplate`; the loss spans cover assistant content and its end-of-turn marker.
"""

from __future__ import annotations

from typing import Sequence

from vlmkit.data.tokenize.chat_templates.base import ChatBuilder, Message, TurnTemplate, split_system

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)


class VicunaV1(TurnTemplate):
    """``<s>SYSTEM USER: u ASSISTANT: a</s>USER: ...`` (LLaVA/VILA ``vicuna_v1``, sep " ", sep2 EOS)."""

    def build(self, out: ChatBuilder, messages: Sequence[Message], add_generation_prompt: bool) -> None:
        system, turns = split_system(messages, VICUNA_SYSTEM)
        out.add(self.bos + (system or ""))
        for m in turns:
            if m["role"] == "user":
                out.add(" USER: " + m["content"])
            else:
                out.add(" ASSISTANT:").add(" " + m["content"] + self.eos, target=True)
        if add_generation_prompt:
            out.add(" ASSISTANT:")


class Llama2(TurnTemplate):
    """``<s>[INST] <<SYS>>\\nsys\\n<</SYS>>\\n\\nu [/INST] a </s><s>[INST] u2 [/INST]``."""

    def build(self, out: ChatBuilder, messages: Sequence[Message], add_generation_prompt: bool) -> None:
        system, turns = split_system(messages, None)
        first = True
        for m in turns:
            if m["role"] == "user":
                sys = f"<<SYS>>\n{system}\n<</SYS>>\n\n" if first and system else ""
                out.add(f"{self.bos}[INST] {sys}{m['content']} [/INST]")
                first = False
            else:
                out.add(" " + m["content"] + " " + self.eos, target=True)


class Llama3(TurnTemplate):
    """``<|begin_of_text|><|start_header_id|>role<|end_header_id|>\\n\\ncontent<|eot_id|>...``."""

    def _header(self, role: str) -> str:
        return f"<|start_header_id|>{role}<|end_header_id|>\n\n"

    def build(self, out: ChatBuilder, messages: Sequence[Message], add_generation_prompt: bool) -> None:
        out.add("<|begin_of_text|>")
        for m in messages:
            out.add(self._header(m["role"]))
            out.add(m["content"] + "<|eot_id|>", target=m["role"] == "assistant")
        if add_generation_prompt:
            out.add(self._header("assistant"))


class ChatML(TurnTemplate):
    """``<|im_start|>role\\ncontent<|im_end|>\\n`` per message (Qwen, SmolLM2); no default system."""

    def build(self, out: ChatBuilder, messages: Sequence[Message], add_generation_prompt: bool) -> None:
        for m in messages:
            out.add(f"<|im_start|>{m['role']}\n")
            out.add(m["content"] + "<|im_end|>", target=m["role"] == "assistant")
            out.add("\n")
        if add_generation_prompt:
            out.add("<|im_start|>assistant\n")
