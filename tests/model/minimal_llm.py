"""A backbone written against the LLMBackbone of before layers()/attention_shape()/decode()/generate():
only ``embed`` and ``forward``, as a third-party plugin may be (it wraps tiny_llama for its numbers)."""

from vlmkit.model.llm.base import LLMBackbone
from vlmkit.model.llm.tiny_llama import tiny_llama


class MinimalLLM(LLMBackbone):
    def __init__(self, inner) -> None:
        super().__init__()
        self.inner = inner
        self.tokenizer, self.hidden_size, self.image_token_id = inner.tokenizer, inner.hidden_size, inner.image_token_id

    def embed(self, input_ids):
        return self.inner.embed(input_ids)

    def forward(self, inputs_embeds, attention_mask=None, position_ids=None, logits_to_keep=None):
        return self.inner(inputs_embeds, attention_mask, position_ids, logits_to_keep)


def minimal_llm(load_weights: bool = True) -> MinimalLLM:
    return MinimalLLM(tiny_llama())
