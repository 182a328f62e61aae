"""Ids and character offsets of text pieces (the stretches between ``<image>`` markers).

Straight from the fast tokenizer's Rust backend, as ``tokenizer(pieces, add_special_tokens=False,
return_offsets_mapping=True)`` would give them without the wrapper's per-call overhead. A piece
seen before (fixed template text such as a system prompt before the first image) is served from
a small LRU cache: each piece is tokenized on its own either way, so the ids are the same.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

Piece = tuple[list[int], np.ndarray]  # ids, offsets [n, 2] (int64, relative to the piece)


class PieceTokenizer:
    """``pieces(texts)`` -> one ``(ids, offsets)`` per text. ``cache_size`` pieces of at most
    ``max_cached_chars`` characters are kept (0: no cache). The cache assumes the tokenizer's
    vocabulary and settings stay fixed once the encoder is built."""

    def __init__(self, tokenizer, cache_size: int = 256, max_cached_chars: int = 4096) -> None:
        self.tokenizer = tokenizer
        self.cache_size, self.max_cached_chars = cache_size, max_cached_chars
        self._cache: OrderedDict[str, Piece] = OrderedDict()

    def __call__(self, texts: Sequence[str]) -> list[Piece]:
        out: list[Piece | None] = [None] * len(texts)
        todo = []
        for i, text in enumerate(texts):
            hit = self._cache.get(text) if self.cache_size else None
            if hit is None:
                todo.append(i)
            else:
                self._cache.move_to_end(text)
                out[i] = hit
        if todo:
            for i, piece in zip(todo, self._encode([texts[i] for i in todo])):
                out[i] = piece
                self._remember(texts[i], piece)
        return out  # type: ignore[return-value]

    def _encode(self, texts: list[str]) -> list[Piece]:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None or backend.truncation is not None or backend.padding is not None:
            # the wrapper switches the backend's truncation/padding off for such a call; let it
            enc = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
            return [(list(ids), _offsets(off)) for ids, off in zip(enc["input_ids"], enc["offset_mapping"])]
        if len(texts) == 1:
            encodings = [backend.encode(texts[0], add_special_tokens=False)]
        else:
            encodings = backend.encode_batch(texts, add_special_tokens=False)
        return [(e.ids, _offsets(e.offsets)) for e in encodings]

    def _remember(self, text: str, piece: Piece) -> None:
        if not self.cache_size or len(text) > self.max_cached_chars:
            return
        self._cache[text] = piece
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def _offsets(offsets) -> np.ndarray:
    out = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    out.flags.writeable = False  # shared through the cache
    return out
