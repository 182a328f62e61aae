"""Conformance suite for :class:`~vlmkit.model.llm.base.LLMBackbone` plugins."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from vlmkit.model.llm.base import AttentionShape, LLMBackbone
from vlmkit.model.splice import packed_attention_mask
from vlmkit.testing.base import ModuleConformance
from vlmkit.testing.tiny_vlm import DEFAULT_PARTNERS, build_partner, check_in_tiny_vlm, project_for

TEXT = ("the quick brown fox jumps over the lazy dog", "two red circles and one green square")


class LLMBackboneConformance(ModuleConformance):
    """Checks an LLM factory ``factory(load_weights=..., **kwargs)``: tokenizer with the image
    token, embedding/logit shapes, causality, padding masks and the packed 4-D mask. Example::

        class TestMyLLM(LLMBackboneConformance):
            factory = "my_llm"
            kwargs = {"config": "tests/fixtures/tiny-config"}
    """

    kind: ClassVar[str] = "llms"
    load_weights: ClassVar[bool] = False
    atol: ClassVar[float] = 1e-4
    vision_partner: ClassVar[dict[str, Any]] = DEFAULT_PARTNERS["vision_encoders"]
    projector_partner: ClassVar[dict[str, Any]] = DEFAULT_PARTNERS["projectors"]

    def arguments(self) -> dict[str, Any]:
        return {"load_weights": self.load_weights}

    @property
    def llm(self) -> Any:
        if not hasattr(self, "_cached"):
            self._cached = self.make()
        return self._cached

    def ids(self, text: str) -> torch.Tensor:
        return torch.tensor([self.llm.tokenizer(text, add_special_tokens=False)["input_ids"]])

    def sample_inputs(self, seed: int, requires_grad: bool = False) -> dict[str, Any]:
        return {"input_ids": self.ids(TEXT[seed % 2]), "requires_grad": requires_grad}

    def run(self, module: nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
        embeds = module.embed(inputs["input_ids"])
        if inputs["requires_grad"]:
            embeds = embeds.detach().requires_grad_(True)
        return module(embeds)

    def logits(self, ids: torch.Tensor, **kw: Any) -> torch.Tensor:
        llm = self.llm.eval()
        with torch.no_grad():
            return llm(llm.embed(ids), **kw)

    def test_tokenizer_holds_the_image_token(self) -> None:
        llm = self.make()
        assert isinstance(llm, LLMBackbone), f"{type(llm).__name__} must subclass vlmkit.LLMBackbone"
        tok = llm.tokenizer
        assert tok.convert_tokens_to_ids(llm.image_token) == llm.image_token_id, "image_token_id must be the tokenizer's id of image_token"
        ids = tok(f"a {llm.image_token} b", add_special_tokens=False)["input_ids"]
        assert ids.count(llm.image_token_id) == 1, f"{llm.image_token!r} must tokenize to exactly one id, got {ids}"
        assert tok.pad_token_id is not None, "the tokenizer needs a pad token (batches are padded)"

    def test_embed_and_logit_shapes(self) -> None:
        ids = torch.cat([self.ids(TEXT[0])[:, :8], self.ids(TEXT[1])[:, :8]])
        embeds = self.llm.embed(ids)
        assert tuple(embeds.shape) == (2, 8, self.llm.hidden_size), f"embed gave {tuple(embeds.shape)}"
        logits = self.logits(ids)
        assert logits.shape[:2] == (2, 8) and logits.shape[-1] > self.llm.image_token_id, f"logits {tuple(logits.shape)}"
        assert torch.isfinite(logits).all()

    def test_logits_to_keep_selects_positions(self) -> None:
        """``logits_to_keep [K]`` gives the full logits at those positions only (training uses it)."""
        ids = self.ids(TEXT[0])
        keep = torch.tensor([0, ids.shape[1] // 2, ids.shape[1] - 1])
        kept = self.logits(ids, logits_to_keep=keep)
        assert kept.shape[1] == len(keep), f"logits_to_keep of {len(keep)} positions gave logits {tuple(kept.shape)}"
        torch.testing.assert_close(kept, self.logits(ids)[:, keep], atol=self.atol, rtol=1e-4)

    def test_is_causal(self) -> None:
        ids = self.ids(TEXT[0])
        changed = ids.clone()
        changed[0, -1] = ids[0, 0]
        torch.testing.assert_close(self.logits(ids)[:, :-1], self.logits(changed)[:, :-1], atol=self.atol, rtol=1e-4)

    def test_padding_mask_hides_padding(self) -> None:
        """A right-padded row gives the same logits on its real tokens as the row alone."""
        ids = self.ids(TEXT[1])
        n = ids.shape[1]
        padded = torch.cat([ids, torch.full((1, 5), self.llm.tokenizer.pad_token_id)], dim=1)
        mask = torch.cat([torch.ones(1, n), torch.zeros(1, 5)], dim=1).long()
        torch.testing.assert_close(self.logits(padded, attention_mask=mask)[:, :n], self.logits(ids), atol=self.atol, rtol=1e-4)

    def test_packed_samples_do_not_see_each_other(self) -> None:
        """Two samples packed in one row (position ids restart, block-diagonal 4-D mask) give the
        logits each gives alone: the packing contract of :mod:`vlmkit.model.splice`."""
        a, b = self.ids(TEXT[0]), self.ids(TEXT[1])
        packed = torch.cat([a, b], dim=1)
        position_ids = torch.cat([torch.arange(a.shape[1]), torch.arange(b.shape[1])]).unsqueeze(0)
        llm = self.llm.eval()
        with torch.no_grad():
            embeds = llm.embed(packed)
            mask = packed_attention_mask(position_ids, torch.ones_like(packed), embeds.dtype)
            out = llm(embeds, attention_mask=mask, position_ids=position_ids)
        alone = torch.cat([self.logits(a), self.logits(b)], dim=1)
        torch.testing.assert_close(out, alone, atol=self.atol, rtol=1e-4)

    def test_layers_attention_shape_and_vocab_size(self) -> None:
        """``layers()`` holds the backbone's own blocks, ``attention_shape()`` (when known) agrees
        with them, and ``vocab_size`` is the logits' last dimension."""
        llm = self.llm
        layers = llm.layers()
        assert isinstance(layers, nn.ModuleList), f"layers() must return an nn.ModuleList, got {type(layers).__name__}"
        own = set(llm.modules())
        assert all(layer in own for layer in layers), "layers() must return the backbone's own submodules, not copies"
        shape = llm.attention_shape()
        if shape is not None:
            assert isinstance(shape, AttentionShape), f"attention_shape() must return an AttentionShape, got {shape!r}"
            assert shape.heads % shape.kv_heads == 0 and shape.head_dim > 0, f"attention_shape() {shape}"
            assert not len(layers) or shape.layers == len(layers), f"attention_shape() has {shape.layers} layers, layers() {len(layers)}"
        assert llm.vocab_size == self.logits(self.ids(TEXT[0])).shape[-1], f"vocab_size {llm.vocab_size} is not the logits' width"

    def test_cached_decode_matches_forward(self) -> None:
        """Prefill then two one-token ``decode`` steps give the logits a full forward gives, in a
        left-padded batch; ``generate`` (when the backbone has one) replies greedily as they do."""
        llm = self.llm.eval()
        a, b = self.ids(TEXT[0])[:, :6], self.ids(TEXT[1])[:, :4]
        pad = torch.full((1, 2), llm.tokenizer.pad_token_id)
        ids = torch.cat([a, torch.cat([pad, b], dim=1)])
        mask = torch.ones_like(ids)
        mask[1, :2] = 0
        with torch.no_grad():
            embeds = llm.embed(ids)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits, cache = llm.decode(embeds[:, :4], mask[:, :4], positions[:, :4])
            steps = [logits]
            for i in (4, 5):
                logits, cache = llm.decode(embeds[:, i : i + 1], mask[:, : i + 1], positions[:, i : i + 1], cache)
                steps.append(logits)
            full = llm(embeds, attention_mask=mask, position_ids=positions)
            torch.testing.assert_close(torch.cat(steps, dim=1)[mask.bool()], full[mask.bool()], atol=self.atol, rtol=1e-4)
            new = llm.generate(embeds, mask, max_new_tokens=3, eos_token_ids=(-1,))
            if new is None:
                return
            tokens, seq, cur = [], embeds, mask
            for _ in range(3):
                nxt = llm(seq, attention_mask=cur, position_ids=(cur.cumsum(-1) - 1).clamp(min=0))[:, -1].argmax(-1)
                tokens.append(nxt)
                seq, cur = torch.cat([seq, llm.embed(nxt[:, None])], dim=1), torch.cat([cur, cur.new_ones(len(cur), 1)], dim=1)
        assert torch.equal(new, torch.stack(tokens, dim=1)), f"generate gave {new.tolist()}, greedy decoding {torch.stack(tokens, 1).tolist()}"

    def test_works_inside_a_tiny_vlm(self) -> None:
        llm = self.make()
        vision = build_partner("vision_encoders", self.vision_partner).requires_grad_(False)
        projector = project_for(vision, llm, self.projector_partner)
        check_in_tiny_vlm(vision, projector, llm, subject="llm")
