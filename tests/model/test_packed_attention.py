"""Packed rows without vlmkit's dense mask: the backbone's declared forms, position ids that isolate
samples and padding, parity with samples run one by one, and what ``vlmkit plan`` counts."""

import importlib.util
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, PreTrainedModel
from transformers.masking_utils import find_packed_sequence_indices

from vlmkit import build_vlm
from vlmkit.config import load_recipe
from vlmkit.model.llm.base import DENSE_MASK, POSITION_IDS
from vlmkit.model.llm.hf_backbone import HFCausalLM, block_mask_bytes
from vlmkit.model.llm.tiny_llama import tiny_llama
from vlmkit.model.llm.tiny_tokenizer import tiny_tokenizer
from vlmkit.model.splice import isolating_position_ids, packed_attention_mask
from vlmkit.train.plan import plan_recipe

ROOT = Path(__file__).resolve().parents[2]
TINY, BENCHMARK = ROOT / "recipes" / "tiny.yaml", ROOT / "benchmarks" / "packed_attention.py"
VLM = {"vision_encoder": {"name": "tiny_vit"}, "projector": {"name": "mlp"}}
CPU_IMPLEMENTATIONS = ["eager", "sdpa"]  # flex_attention: one fixed case below (it compiles)

# a row is a list of pieces: ("sample", n) counts 0..n-1, ("pad", n) holds padding
pieces = st.lists(st.tuples(st.sampled_from(["sample", "pad"]), st.integers(1, 7)), min_size=1, max_size=5)


def row_tensors(row, junk: int = 3):
    """``position_ids``, ``attention_mask`` and the expected sample index of each position ``[L]``;
    padding positions hold junk (``junk + i``) and adjacent padding pieces are one run."""
    positions, mask, group = [], [], []
    for i, (kind, n) in enumerate(row):
        is_pad = kind == "pad"
        joins = is_pad and i > 0 and row[i - 1][0] == "pad"
        start = group[-1] + 1 if group else 0
        group += [start - 1 if joins else start] * n
        positions += [junk + k for k in range(n)] if is_pad else list(range(n))
        mask += [0 if is_pad else 1] * n
    return torch.tensor(positions), torch.tensor(mask), torch.tensor(group)


def same_group(groups: torch.Tensor) -> torch.Tensor:
    return groups.unsqueeze(-1) == groups.unsqueeze(-2)


@settings(max_examples=80, deadline=None)
@given(pieces, st.integers(0, 5))
def test_isolating_positions_give_every_sample_and_padding_run_its_own_segment(row, junk):
    """transformers' own reading of the positions (a new sample wherever a position is not the
    previous one + 1) finds exactly the packed samples and padding runs; real positions are kept."""
    positions, mask, expected = row_tensors(row, junk)
    iso = isolating_position_ids(positions[None], mask[None])[0]
    assert torch.equal(iso[mask == 1], positions[mask == 1])
    found = find_packed_sequence_indices(iso[None])[0]
    assert torch.equal(same_group(found), same_group(expected))


@pytest.fixture(scope="module", params=CPU_IMPLEMENTATIONS)
def backbone(request):
    torch.manual_seed(0)
    return tiny_llama(attn_implementation=request.param).eval()


def packed_batch(rows, vocab: int = 200, seed: int = 0):
    """Right-padded packed rows as the collator makes them: ``(ids, attention_mask, position_ids,
    [(row, start, length)] of the samples)``; padding positions continue the last sample's count."""
    g = torch.Generator().manual_seed(seed)
    width = max(sum(lengths) + pad for lengths, pad in rows)
    ids = torch.randint(3, vocab, (len(rows), width), generator=g)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    pos = torch.zeros(len(rows), width, dtype=torch.long)
    samples = []
    for r, (lengths, _) in enumerate(rows):
        at = 0
        for n in lengths:
            pos[r, at : at + n] = torch.arange(n)
            samples.append((r, at, n))
            at += n
        mask[r, :at] = 1
        pos[r, at:] = torch.arange(lengths[-1], lengths[-1] + width - at)
    return ids, mask, pos, samples


# 1-2 rows, each (sample lengths, extra padding)
rows = st.lists(st.tuples(st.lists(st.integers(1, 9), min_size=1, max_size=4), st.integers(0, 4)),
                min_size=1, max_size=2)


@settings(max_examples=25, deadline=None)
@given(rows, st.sampled_from([DENSE_MASK, POSITION_IDS]))
def test_packed_rows_match_samples_run_one_by_one(backbone, rows, form):
    """Both forms, with every CPU attention implementation: each packed sample's logits equal the
    sample run alone; with position ids alone a padding run sees only itself."""
    ids, mask, pos, samples = packed_batch(rows)
    with torch.no_grad():
        embeds = backbone.embed(ids)
        if form == DENSE_MASK:
            out = backbone(embeds, attention_mask=packed_attention_mask(pos, mask, embeds.dtype), position_ids=pos)
        else:
            out = backbone(embeds, attention_mask=None, position_ids=isolating_position_ids(pos, mask))
        for r, start, n in samples:
            alone = backbone(backbone.embed(ids[r : r + 1, start : start + n]))
            torch.testing.assert_close(out[r : r + 1, start : start + n], alone, atol=1e-5, rtol=1e-4)
        assert torch.isfinite(out).all()
        if form == POSITION_IDS:
            for r in range(len(rows)):
                used = int(mask[r].sum())
                if used < ids.shape[1]:
                    alone = backbone(backbone.embed(ids[r : r + 1, used:]))
                    torch.testing.assert_close(out[r : r + 1, used:], alone, atol=1e-5, rtol=1e-4)


class PlainLM(PreTrainedModel):
    """A causal LM whose modeling code builds no masks with transformers' masking utilities."""

    config_class = LlamaConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = torch.nn.Embedding(config.vocab_size, config.hidden_size)
        self.head = torch.nn.Linear(config.hidden_size, config.vocab_size)

    def get_input_embeddings(self):
        return self.embed

    def get_output_embeddings(self):
        return self.head


def test_backbones_declare_the_packed_forms_they_take():
    for implementation in CPU_IMPLEMENTATIONS:
        assert tiny_llama(attn_implementation=implementation).packed_attention == (DENSE_MASK, POSITION_IDS)
    assert tiny_llama(attn_implementation="flex_attention").packed_attention == (POSITION_IDS, DENSE_MASK)
    plain = HFCausalLM(PlainLM(LlamaConfig(vocab_size=300, hidden_size=8)), tiny_tokenizer())
    assert plain.packed_attention == (DENSE_MASK,)


def test_mask_bytes_follow_the_form():
    sdpa, flex = tiny_llama(), tiny_llama(attn_implementation="flex_attention")
    assert sdpa.packed_mask_bytes(2, 2048) == 2 * 2048 * 2048 * 4  # one fp32 mask, shared by the layers
    assert flex.packed_mask_bytes(2, 2048) == block_mask_bytes(2, 2048) == 2 * 4 * 4 * 16 * 17


def llm_inputs(model, batch) -> dict:
    """The keyword arguments the VLM's forward hands its LLM."""
    seen = {}
    handle = model.llm.register_forward_pre_hook(lambda m, args, kwargs: seen.update(kwargs), with_kwargs=True)
    try:
        with torch.no_grad():
            out = model(**batch)
    finally:
        handle.remove()
    return {**seen, "out": out}


def vlm(implementation: str):
    torch.manual_seed(0)
    return build_vlm({**VLM, "llm": {"name": "tiny_llama", "attn_implementation": implementation}}).eval()


def test_vlm_hands_packed_rows_over_in_the_preferred_form():
    ids, mask, pos, _ = packed_batch([([4, 3], 2), ([6], 3)])
    batch = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "labels": ids}
    dense = llm_inputs(vlm("sdpa"), batch)
    assert dense["attention_mask"].shape == (2, 1, ids.shape[1], ids.shape[1])
    unpacked = llm_inputs(vlm("sdpa"), {**batch, "position_ids": torch.arange(ids.shape[1]).expand_as(ids)})
    assert torch.equal(unpacked["attention_mask"], mask)  # one sample per row: the 2-D mask as given


@pytest.mark.slow
def test_flex_attention_reads_packed_rows_from_position_ids():
    """One fixed case (flex_attention compiles, ~20 s on a CPU): the VLM passes no mask, only
    position ids, and its logits and loss equal the dense-mask path of the same weights."""
    ids, mask, pos, samples = packed_batch([([5, 9, 3], 3)])
    batch = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "labels": ids.masked_fill(mask == 0, -100)}
    flex, dense = vlm("flex_attention"), vlm("sdpa")
    dense.load_state_dict(flex.state_dict())
    got, want = llm_inputs(flex, batch), llm_inputs(dense, batch)
    assert got["attention_mask"] is None
    assert torch.equal(got["position_ids"], isolating_position_ids(pos, mask))
    for r, start, n in samples:
        torch.testing.assert_close(got["out"].logits[r, start : start + n], want["out"].logits[r, start : start + n],
                                   atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got["out"].loss, want["out"].loss)


def test_plan_counts_the_mask_only_where_one_is_built():
    """A dense fp32 mask per packed row with sdpa; flex_attention's block mask is a few KiB."""
    def plan(*overrides):
        return plan_recipe(load_recipe(TINY, overrides), device="cpu", stage="pretrain")[0]

    dense, flex = plan(), plan("model.llm.attn_implementation=flex_attention")
    rows, seq = (dense.microbatch if isinstance(dense.microbatch, int) else 1), 256
    assert dense.memory["attention_mask"] == rows * seq * seq * 4
    assert flex.memory["attention_mask"] == block_mask_bytes(rows, seq) < 2**14
    saved = dense.memory["attention_mask"] - flex.memory["attention_mask"]
    assert dense.memory["total"] - flex.memory["total"] == saved
    assert plan("data.packing=false").memory["attention_mask"] == 0


def test_flex_attention_refuses_to_train_on_the_cpu():
    """PyTorch compiles flex_attention's backward for GPUs only: a clear error, not an inductor trace."""
    llm = tiny_llama(attn_implementation="flex_attention")
    with pytest.raises(ValueError, match="attn_implementation=flex_attention cannot train on the CPU"):
        llm(llm.embed(torch.tensor([[5, 6, 7]])))


def test_benchmark_quick_mode_ends_with_a_ratio(capsys):
    spec = importlib.util.spec_from_file_location("bench_packed_attention", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ratio = module.main(["--quick"])
    out = capsys.readouterr().out.splitlines()
    assert ratio > 0 and out[-1] == f"ratio: {ratio:.3f}"
    assert sum("| sdpa |" in line for line in out) == 4  # two lengths x (dense, position ids)
