"""HFCausalLM: image/pad tokens, embedding resizing, packed 4-D masks, generic over HF causal LMs."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from vlmkit.model.llm.hf_backbone import HFCausalLM
from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer
from vlmkit.model.splice import packed_attention_mask


def _tiny_hf(cls, cfg_cls, vocab, attn="sdpa"):
    torch.manual_seed(0)
    cfg = cfg_cls(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, attn_implementation=attn)
    return cls(cfg)


def test_tiny_llama_has_image_token_without_resize(llm):
    assert llm.tokenizer.convert_ids_to_tokens(llm.image_token_id) == "<image>"
    assert llm.vocab_size == len(llm.tokenizer)
    assert llm.tokenizer.pad_token_id is not None
    assert llm.hidden_size == 64
    assert llm.embed(torch.tensor([[1, 2, 3]])).shape == (1, 3, 64)


def test_image_token_added_and_embeddings_grow_only_when_needed():
    tok = tiny_tokenizer()
    model = _tiny_hf(LlamaForCausalLM, LlamaConfig, len(tok))
    backbone = HFCausalLM(model, tok)
    assert backbone.vocab_size == len(tok) == 261
    assert backbone.image_token_id == 260
    # a second wrap finds the token already there: nothing is added or resized
    again = HFCausalLM(model, tok)
    assert again.image_token_id == 260 and again.vocab_size == 261
    # a model with spare rows (padded vocab) is not shrunk or grown
    big = _tiny_hf(LlamaForCausalLM, LlamaConfig, 320)
    assert HFCausalLM(big, tiny_tokenizer()).vocab_size == 320


def test_pad_token_falls_back_to_eos():
    tok = tiny_tokenizer()
    tok.pad_token = None
    backbone = HFCausalLM(_tiny_hf(LlamaForCausalLM, LlamaConfig, 300), tok)
    assert backbone.tokenizer.pad_token == "<|im_end|>"


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("arch", [(LlamaForCausalLM, LlamaConfig), (Qwen2ForCausalLM, Qwen2Config)])
def test_packed_4d_mask_matches_separate_samples(arch, attn):
    """Two samples packed in one row give the same logits as each run alone."""
    backbone = HFCausalLM(_tiny_hf(*arch, 300, attn).eval(), tiny_tokenizer())
    a, b = torch.tensor([[5, 6, 7, 8, 9]]), torch.tensor([[10, 11, 12]])
    packed_ids = torch.cat([a, b], dim=1)
    pos = torch.tensor([[0, 1, 2, 3, 4, 0, 1, 2]])
    embeds = backbone.embed(packed_ids)
    mask = packed_attention_mask(pos, torch.ones_like(pos), embeds.dtype)
    with torch.no_grad():
        packed = backbone(embeds, attention_mask=mask, position_ids=pos)
        alone_a = backbone(backbone.embed(a))
        alone_b = backbone(backbone.embed(b))
    torch.testing.assert_close(packed[:, :5], alone_a, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[:, 5:], alone_b, atol=1e-5, rtol=1e-4)


def test_activation_checkpointing_gives_same_grads():
    from vlmkit.model.llm.tiny_llama import tiny_llama

    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        llm = tiny_llama(activation_checkpointing=ckpt).train()
        llm(llm.embed(torch.tensor([[1, 2, 3, 4]]))).sum().backward()
        grads.append(llm.model.model.layers[0].mlp.up_proj.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])
