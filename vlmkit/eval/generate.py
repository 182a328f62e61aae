"""Batched generation from a :class:`~vlmkit.model.vlm.VisionLanguageModel` with the KV cache.

Prompts are token-id lists in the batch contract (each image a pre-expanded run of placeholders);
they are left-padded into one batch and embedded once with the images spliced in
(``model.embed``). A backbone with a decoder of its own (``LLMBackbone.generate``: Hugging Face
``generate`` for the HF backbones) decodes from there; for any other (and with ``native=False``),
vlmkit's loop steps through ``LLMBackbone.decode`` (prefill, then one token at a time against the cache). Greedy or
sampling (temperature, top-k, top-p; seeded); a row stops at an EOS token, at a stop string, or
after ``max_new_tokens``.

:func:`generate_uncached` is the plain reference: one prompt at a time, the whole sequence run
through the LLM again for every new token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings. ``temperature == 0`` or ``do_sample=False`` is greedy."""

    max_new_tokens: int = 32
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")


@dataclass
class Generated:
    """One reply: ``text`` (cut before any stop string), ``token_ids`` (new tokens, EOS excluded),
    ``finish`` (``"eos"``, ``"stop"`` or ``"length"``)."""

    text: str
    token_ids: list[int] = field(default_factory=list)
    finish: str = "length"


def _device_dtype(model) -> tuple[torch.device, torch.dtype]:
    p = next(model.parameters())
    return p.device, p.dtype


def _stop_ids(tokenizer, config: GenerationConfig) -> set[int]:
    ids = set(config.stop_token_ids)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def _pixels(images: Sequence[Sequence[torch.Tensor]], model) -> torch.Tensor | None:
    """All images of the batch in reading order, ``[N, 3, H, W]`` on the model's device and dtype."""
    flat = [im for row in images for im in row]
    device, dtype = _device_dtype(model)
    return torch.stack(list(flat)).to(device=device, dtype=dtype) if flat else None


def _next_tokens(logits: torch.Tensor, config: GenerationConfig, generator: torch.Generator | None) -> torch.Tensor:
    """``[B, V]`` logits -> ``[B]`` token ids (greedy, or sampled with temperature/top-k/top-p)."""
    if not config.do_sample or config.temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / config.temperature
    if config.top_k > 0:
        kth = torch.topk(logits, min(config.top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if config.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) > config.top_p  # keep the smallest set reaching top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class _Decoder:
    """Per-row bookkeeping: new tokens, stop strings, finish reasons."""

    def __init__(self, tokenizer, batch: int, config: GenerationConfig) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self.stop_ids = _stop_ids(tokenizer, config)
        self.tokens: list[list[int]] = [[] for _ in range(batch)]
        self.finish: list[str | None] = [None] * batch

    @property
    def done(self) -> bool:
        return all(f is not None for f in self.finish)

    def push(self, new: torch.Tensor) -> None:
        for i, t in enumerate(new.tolist()):
            if self.finish[i] is not None:
                continue
            if t in self.stop_ids:
                self.finish[i] = "eos"
                continue
            self.tokens[i].append(t)
            if self.config.stop and any(s in self._text(i) for s in self.config.stop):
                self.finish[i] = "stop"
            elif len(self.tokens[i]) >= self.config.max_new_tokens:
                self.finish[i] = "length"

    def _text(self, i: int) -> str:
        return self.tokenizer.decode(self.tokens[i], skip_special_tokens=True)

    def results(self) -> list[Generated]:
        out = []
        for i, tokens in enumerate(self.tokens):
            text = self._text(i)
            for s in self.config.stop:
                text = text.split(s)[0] if s in text else text
            out.append(Generated(text, tokens, self.finish[i] or "length"))
        return out


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` ``[B, L]``, each prompt right-aligned."""
    length = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), length), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        if len(p):
            ids[i, length - len(p) :] = torch.tensor(list(p), dtype=torch.long, device=device)
            mask[i, length - len(p) :] = 1
    return ids, mask


def _prompt_batch(model, prompts, images, features=None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(inputs_embeds [B, L, D], attention_mask [B, L], pad_id)`` of left-padded prompts (their
    images' ``features``, if given, instead of encoding ``images``)."""
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    device, _ = _device_dtype(model)
    tok = model.tokenizer
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    input_ids, mask = left_pad(prompts, pad_id, device)
    if features is not None:
        flat = [f for row in features for f in row]
        stacked = torch.stack(flat) if flat else None
        return model.embed(input_ids, None, image_features=stacked), mask, pad_id
    return model.embed(input_ids, _pixels(images, model)), mask, pad_id


@torch.no_grad()
def generate(
    model,
    prompts: Sequence[Sequence[int]],
    images: Sequence[Sequence[torch.Tensor]] | None = None,
    config: GenerationConfig = GenerationConfig(),
    native: bool = True,
    *,
    features: Sequence[Sequence[torch.Tensor]] | None = None,
) -> list[Generated]:
    """Replies to a batch of prompts with the KV cache.

    ``prompts[i]``: token ids with one placeholder run per image; ``images[i]``: that prompt's
    images as ``[3, H, W]`` tensors (``model.image_transform`` output), in order. ``native``: use
    the backbone's own decoder when it has one (``LLMBackbone.generate``); ``False``: vlmkit's loop
    over ``LLMBackbone.decode`` (the reference the native path is tested against). ``features[i]``:
    prompt ``i``'s images already encoded (``[K, D]`` rows of ``model.encode_images``), given
    instead of ``images`` (:class:`vlmkit.eval.images.FeatureCache` encodes each distinct image once).
    """
    if not prompts:
        return []
    if features is not None and images is not None:
        raise ValueError("give generate() images or their features, not both")
    images = images if images is not None else [[] for _ in prompts]
    embeds, mask, pad_id = _prompt_batch(model, prompts, images, features)
    decoder = _Decoder(model.tokenizer, len(prompts), config)
    new = model.llm.generate(
        embeds, mask, max_new_tokens=config.max_new_tokens, do_sample=config.do_sample, temperature=config.temperature,
        top_k=config.top_k, top_p=config.top_p, seed=config.seed, eos_token_ids=tuple(sorted(decoder.stop_ids)),
        stop=config.stop,
    ) if native else None
    if new is None:
        return _decode_loop(model.llm, embeds, mask, pad_id, decoder)
    for column in new.T:
        decoder.push(column)
    return decoder.results()


def _decode_loop(llm, embeds: torch.Tensor, mask: torch.Tensor, pad_id: int, decoder: "_Decoder") -> list[Generated]:
    """vlmkit's own loop: prefill ``embeds [B, L, D]`` (left-padded, ``mask [B, L]``) through
    ``llm.decode``, then one token per step against its cache until ``decoder`` is done."""
    config = decoder.config
    device = embeds.device
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    generator = torch.Generator(device=device).manual_seed(config.seed) if config.do_sample else None
    logits, cache = llm.decode(embeds, mask, positions)
    last = positions[:, -1:]
    while True:
        new = _next_tokens(logits[:, -1], config, generator)
        decoder.push(new)
        if decoder.done:
            return decoder.results()
        new = new.masked_fill(torch.tensor([f is not None for f in decoder.finish], device=device), pad_id)
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        last = last + 1
        logits, cache = llm.decode(llm.embed(new[:, None]), mask, last, cache)


@torch.no_grad()
def generate_uncached(
    model, prompt: Sequence[int], images: Sequence[torch.Tensor] = (), config: GenerationConfig = GenerationConfig()
) -> Generated:
    """One prompt, no KV cache: every step runs the LLM over the whole sequence (the reference
    the cached path is tested and benchmarked against)."""
    device, _ = _device_dtype(model)
    ids = torch.tensor([list(prompt)], dtype=torch.long, device=device)
    embeds = model.embed(ids, _pixels([images], model))
    generator = torch.Generator(device=device).manual_seed(config.seed) if config.do_sample else None
    decoder = _Decoder(model.tokenizer, 1, config)
    while True:
        logits = model.llm(embeds)
        new = _next_tokens(logits[:, -1], config, generator)
        decoder.push(new)
        if decoder.done:
            return decoder.results()[0]
        embeds = torch.cat([embeds, model.llm.embed(new[:, None])], dim=1)
