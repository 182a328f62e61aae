"""``tiny_llama``: a random-init ``LlamaForCausalLM`` around :func:`tiny_tokenizer` (tests, CPU smoke runs)."""

from __future__ import annotations

from vlmkit.model.llm.hf_backbone import HFCausalLM, ensure_image_token
from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer


def tiny_llama(
    load_weights: bool = True,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 4096,
    attn_implementation: str = "sdpa",
    activation_checkpointing: bool = False,
) -> HFCausalLM:
    """A 2-layer, 64-wide Llama with a 261-token byte vocabulary (``<image>`` included).

    ``load_weights`` is ignored: there are no weights, the model is random either way.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    sizes = {"hidden_size": hidden_size, "num_layers": num_layers, "num_heads": num_heads, "num_kv_heads": num_kv_heads,
             "intermediate_size": intermediate_size}
    for key, value in sizes.items():
        if value < 1:
            raise ValueError(f"tiny_llama: {key} must be at least 1, got {value}")
    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise ValueError(f"tiny_llama: num_heads ({num_heads}) must divide hidden_size ({hidden_size}) and be a multiple of "
                         f"num_kv_heads ({num_kv_heads})")
    tokenizer = tiny_tokenizer()
    ensure_image_token(tokenizer)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        attn_implementation=attn_implementation,
    )
    llm = HFCausalLM(LlamaForCausalLM(config), tokenizer)
    if activation_checkpointing:
        llm.enable_activation_checkpointing()
    return llm
