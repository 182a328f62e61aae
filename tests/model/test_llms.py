"""hf_causal_lm from local folders, shipped configs without weights, smollm2_135m's no-weight path."""

import logging

import pytest
import torch
from tiny_checkpoints import save_llama

from vlmkit.model.llm.hf_causal_lm import hf_causal_lm
from vlmkit.model.llm.smollm2 import smollm2_135m


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return save_llama(tmp_path_factory.mktemp("llama"), vocab=260)  # exactly the tokenizer: <image> needs a new row


def test_local_folder_loads_weights_and_adds_image_token(llama_dir):
    from transformers import LlamaForCausalLM

    llm = hf_causal_lm(pretrained=str(llama_dir))
    ref = LlamaForCausalLM.from_pretrained(llama_dir)
    assert llm.image_token_id == 260 and llm.vocab_size == 261
    assert llm.tokenizer.pad_token == llm.tokenizer.eos_token  # none saved: EOS stands in
    emb = llm.model.get_input_embeddings().weight
    torch.testing.assert_close(emb[:260], ref.get_input_embeddings().weight)
    torch.testing.assert_close(emb[260], emb[:260].mean(0))  # new row: mean of the others
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        torch.testing.assert_close(llm(llm.embed(ids))[..., :260], ref(ids).logits)


def test_dtype_attention_and_overrides(llama_dir):
    llm = hf_causal_lm(pretrained=str(llama_dir), torch_dtype="bfloat16", attn_implementation="eager",
                       config_overrides={"num_hidden_layers": 1})
    assert next(llm.parameters()).dtype == torch.bfloat16
    assert llm.model.config._attn_implementation == "eager"
    assert len(llm.model.model.layers) == 1


def test_without_weights_builds_on_meta_from_a_folder(llama_dir):
    llm = hf_causal_lm(load_weights=False, pretrained=str(llama_dir))
    assert all(p.is_meta for p in llm.parameters())
    assert llm.image_token_id == 260 and llm.vocab_size == 261  # the real tokenizer was found


@pytest.mark.parametrize(
    "name, hidden, params_b",
    [("meta-llama/Llama-2-7b-hf", 4096, 6.74), ("lmsys/vicuna-13b-v1.5", 5120, 13.02), ("meta-llama/Meta-Llama-3-8B", 4096, 8.03)],
)
def test_shipped_llm_configs_plan_offline(name, hidden, params_b):
    llm = hf_causal_lm(load_weights=False, pretrained=name, torch_dtype="bfloat16")
    assert llm.hidden_size == hidden
    assert sum(p.numel() for p in llm.parameters()) / 1e9 == pytest.approx(params_b, abs=0.01)
    assert next(llm.parameters()).dtype == torch.bfloat16
    assert llm.tokenizer.convert_ids_to_tokens(llm.image_token_id) == "<image>"  # byte-level stand-in


def test_errors_are_one_line_and_actionable(tmp_path):
    with pytest.raises(ValueError, match="needs 'pretrained'"):
        hf_causal_lm()
    with pytest.raises(FileNotFoundError, match="shipped names: .*meta-llama/Llama-2-7b-hf"):
        hf_causal_lm(pretrained=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="unknown torch_dtype 'half'"):
        hf_causal_lm(pretrained="meta-llama/Llama-2-7b-hf", load_weights=False, torch_dtype="half")


def test_trust_remote_code_warns(llama_dir, caplog):
    with caplog.at_level(logging.WARNING):
        hf_causal_lm(pretrained=str(llama_dir), trust_remote_code=True)
    assert "trust_remote_code=True" in caplog.text


def test_smollm2_without_weights_needs_no_conversion(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMKIT_CACHE", str(tmp_path))
    llm = smollm2_135m(load_weights=False)
    assert llm.hidden_size == 576 and llm.model.config.num_hidden_layers == 30
    assert all(p.is_meta for p in llm.parameters())
    assert list(tmp_path.iterdir()) == []  # nothing converted or written


def test_random_init_builds_real_random_weights_and_keeps_the_tokenizer(llama_dir):
    from transformers import LlamaForCausalLM

    torch.manual_seed(1)  # not the seed the test checkpoint was made with
    llm = hf_causal_lm(pretrained=str(llama_dir), random_init=True, attn_implementation="eager")
    torch.manual_seed(1)
    again = hf_causal_lm(pretrained=str(llama_dir), random_init=True)
    saved = LlamaForCausalLM.from_pretrained(llama_dir).model.layers[0].mlp.up_proj.weight
    weight = llm.model.model.layers[0].mlp.up_proj.weight
    assert not any(p.is_meta for p in llm.parameters())
    assert not torch.equal(weight, saved)  # the checkpoint's weights were not read
    torch.testing.assert_close(weight, again.model.model.layers[0].mlp.up_proj.weight)  # seeded
    assert llm.model.config._attn_implementation == "eager"
    assert llm.image_token_id == 260  # the folder's tokenizer
    with torch.no_grad():
        assert torch.isfinite(llm(llm.embed(torch.tensor([[1, 2, 3]])))).all()


def test_random_init_from_a_shipped_config_downloads_nothing():
    small = {"num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4}
    llm = hf_causal_lm(pretrained="princeton-nlp/Sheared-LLaMA-2.7B", random_init=True, config_overrides=small)
    assert not any(p.is_meta for p in llm.parameters()) and llm.hidden_size == 64
    assert llm.model.get_input_embeddings().weight.shape[0] >= 32000  # the real vocabulary, not the stand-in's
    with torch.no_grad():
        assert torch.isfinite(llm(llm.embed(torch.tensor([[5, 6]])))).all()


def test_random_init_without_weights_still_builds_on_meta(llama_dir):
    llm = hf_causal_lm(load_weights=False, pretrained=str(llama_dir), random_init=True)
    assert all(p.is_meta for p in llm.parameters())
