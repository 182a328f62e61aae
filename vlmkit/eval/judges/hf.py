"""``hf``: a local Hugging Face causal LM as the judge (no network; greedy unless a temperature is asked)."""

from __future__ import annotations

from typing import Any

from vlmkit.eval.judges.base import Judge, JudgeError


class HFJudge(Judge):
    """``AutoModelForCausalLM`` + tokenizer from ``pretrained`` (a local folder or the HF cache).

    The prompt goes through the tokenizer's chat template when it has one, else as plain text.
    ``torch_dtype``: ``float32``/``bfloat16``/``auto``; ``device``: ``cpu``/``cuda``.
    """

    def __init__(self, pretrained: str, torch_dtype: str | None = None, device: str = "cpu", seed: int = 0) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from vlmkit.model.hf_loading import parse_dtype

        self.pretrained = pretrained
        self.tokenizer = AutoTokenizer.from_pretrained(pretrained)
        self.model = AutoModelForCausalLM.from_pretrained(pretrained, dtype=parse_dtype(torch_dtype)).to(device).eval()
        self.device, self.seed = device, seed

    def __repr__(self) -> str:
        return f"HFJudge(pretrained={self.pretrained!r})"

    def complete(self, prompt: str, *, system: str | None = None, temperature: float = 0.0, max_tokens: int = 1024) -> str:
        import torch

        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        else:
            text = (system + "\n\n" if system else "") + prompt
            ids = self.tokenizer(text, return_tensors="pt")["input_ids"]
        sampling: dict[str, Any] = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        torch.manual_seed(self.seed)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.no_grad():
            out = self.model.generate(ids.to(self.device), attention_mask=torch.ones_like(ids).to(self.device), max_new_tokens=max_tokens,
                                      pad_token_id=pad, **sampling)
        reply = self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        if not reply.strip():
            raise JudgeError("malformed", f"judge {self.pretrained} replied with no text")
        return reply
