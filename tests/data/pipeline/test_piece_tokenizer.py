"""The fast tokenization path (Rust backend + cache of repeated pieces) gives exactly the ids and
labels of the wrapper call it replaced, for every template and sample kind, cached or not."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import K, encoder
from test_chat_templates import TEMPLATES, conversations
from vlmkit.data.schema import IMAGE_MARKER
from vlmkit.data.tokenize import Rendered, tokenize_rendered
from vlmkit.data.tokenize.core import with_markers
from vlmkit.data.tokenize.core import marker_positions
from vlmkit.data.tokenize.pieces import PieceTokenizer
from vlmkit.model.splice import IGNORE_INDEX

HYP = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def reference(tok, rendered: Rendered, image_token_id: int) -> tuple[list[int], list[int]]:
    """The previous path: the wrapper tokenizes the pieces between markers, a token carries loss
    when its characters overlap a target span."""
    text, cuts = rendered.text, [(-len(IMAGE_MARKER), 0)] + [(p, p + len(IMAGE_MARKER)) for p in marker_positions(rendered.text)]
    bounds = [(cuts[i][1], cuts[i + 1][0] if i + 1 < len(cuts) else len(text)) for i in range(len(cuts))]
    enc = tok([text[a:b] for a, b in bounds], add_special_tokens=False, return_offsets_mapping=True)
    ids, labels = [], []
    for j, ((base, _), piece_ids, offsets) in enumerate(zip(bounds, enc["input_ids"], enc["offset_mapping"])):
        if j:
            ids += [image_token_id] * K
            labels += [IGNORE_INDEX] * K
        for t, (s, e) in zip(piece_ids, offsets):
            s, e = s + base, max(e, s + 1) + base
            ids.append(t)
            labels.append(t if any(s < te and e > ts for ts, te in rendered.targets) else IGNORE_INDEX)
    return ids, labels


@pytest.mark.parametrize("template", TEMPLATES)
@HYP
@given(msgs=conversations(), n_images=st.integers(0, 2))
def test_conversations_match_the_wrapper_path(any_tokenizer, template, msgs, n_images):
    enc = encoder(any_tokenizer, template)
    image_id = enc.image_token_id
    for _ in range(2):  # the second pass is served from the cache
        sample = enc.encode("conversations", {"messages": msgs}, ["img"] * n_images)
        chat = enc.chat_template.render(with_markers(msgs, n_images))
        assert (sample["input_ids"], sample["labels"]) == reference(any_tokenizer, Rendered(chat.text, chat.targets), image_id)


@pytest.mark.parametrize("kind,content,images", [
    ("pairs", {"caption": "a red circle, left of the square"}, ["A"]),
    ("interleaved", {"segments": [{"text": "Hi there."}, {"image": 0}, {"text": "Dog é 😀."}, {"image": 1}]}, ["A", "B"]),
    ("text", {"text": "  plain text\twith   spaces "}, []),
])
def test_other_kinds_match_the_wrapper_path(any_tokenizer, kind, content, images):
    enc = encoder(any_tokenizer)
    rendered = enc.kind(kind).render(content, len(images), enc.context, enc.options(kind))
    first = enc.encode(kind, content, images)
    assert (first["input_ids"], first["labels"]) == reference(any_tokenizer, rendered, enc.image_token_id)
    assert enc.encode(kind, content, images) == first


def test_cache_is_bounded_and_results_are_shared_read_only(smol_tokenizer):
    pieces = PieceTokenizer(smol_tokenizer, cache_size=2, max_cached_chars=10)
    texts = ["a b", "c d", "e f", "x" * 11]
    first = pieces(texts)
    assert list(pieces._cache) == ["c d", "e f"]  # LRU of 2; the long piece is never kept
    again = pieces(["e f", "a b"])
    assert again[0] is first[2] and again[1][0] == first[0][0]
    assert not again[0][1].flags.writeable
    wrapped = smol_tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    for (ids, off), w_ids, w_off in zip(first, wrapped["input_ids"], wrapped["offset_mapping"]):
        assert ids == w_ids and off.tolist() == [list(o) for o in w_off]


def test_backend_with_truncation_goes_through_the_wrapper(smol_tokenizer):
    """A backend left with truncation on is not called directly: the wrapper switches it off."""
    backend = smol_tokenizer.backend_tokenizer
    rendered = Rendered("one two three<image> four five six seven eight nine ten", ((0, 5),), (0,))
    backend.enable_truncation(4)
    try:
        ids, labels = tokenize_rendered(smol_tokenizer, rendered, image_token_id=1, num_image_tokens=K)
    finally:
        backend.no_truncation()
    assert len(ids) > 4 + K and (ids, labels) == reference(smol_tokenizer, rendered, 1)
