"""Hand-checked loss positions for every sample kind, with the byte tokenizer (one token per ASCII
character, so the expected masks are written character by character) and with SmolLM2's BPE."""

from __future__ import annotations

import pytest

from helpers import K, encoder, mask, tagged

IM_END = "<|im_end|>"


def test_pairs_loss_on_caption_and_eos(tiny_tok):
    s = encoder(tiny_tok).encode("pairs", {"caption": "a cat"}, ["img"])
    # <image>x2  \n  a _ c a t  <|im_end|>
    assert mask(s, tiny_tok.convert_tokens_to_ids("<image>")) == "II" + "." + "11111" + "1"
    assert s["images"] == ["img"]
    assert tiny_tok.decode(s["input_ids"][K:]) == "\na cat" + IM_END


def test_interleaved_similarity_filter_and_loss_after_first_image(tiny_tok):
    content = {"segments": [
        {"text": "Hi."}, {"image": 0, "similarity": 0.9}, {"text": "Dog."},
        {"image": 1, "similarity": 0.1}, {"text": "Ok."},
    ]}
    enc = encoder(tiny_tok)
    img = tiny_tok.convert_tokens_to_ids("<image>")
    s = enc.encode("interleaved", content, ["A", "B"], {"min_similarity": 0.5})
    # "Hi." " " <image> "Dog." " Ok." eos ; image B dropped with its marker
    assert tiny_tok.decode([t for t in s["input_ids"] if t != img]) == "Hi. Dog. Ok." + IM_END
    assert mask(s, img) == "111" + "." + "II" + "1111" + "1111" + "1"
    assert s["images"] == ["A"]
    s = enc.encode("interleaved", content, ["A", "B"], {"min_similarity": 0.5, "loss_after_first_image": True})
    assert mask(s, img) == "..." + "." + "II" + "1111" + "1111" + "1"
    s = enc.encode("interleaved", content, ["A", "B"], {"max_images": 1})
    assert s["images"] == ["A"] and mask(s, img).count("I") == K


def test_conversation_loss_only_on_assistant_turns_multi_image(tiny_tok):
    msgs = [
        {"role": "user", "content": "<image><image>Q?"},
        {"role": "assistant", "content": "A."},
        {"role": "user", "content": "Hm"},
        {"role": "assistant", "content": "B"},
    ]
    s = encoder(tiny_tok).encode("conversations", {"messages": msgs}, ["x", "y"])
    img = tiny_tok.convert_tokens_to_ids("<image>")
    user1 = "." + "....." + "II" + "II" + ".." + "." + "."  # <|im_start|> user \n <img><img> Q ? <|im_end|> \n
    asst1 = "." + ".........." + "11" + "1" + "."  # <|im_start|> assistant\n A . <|im_end|> \n
    user2 = "." + "....." + ".." + "." + "."
    asst2 = "." + ".........." + "1" + "1" + "."
    assert mask(s, img) == user1 + asst1 + user2 + asst2
    assert s["images"] == ["x", "y"]


def test_text_kinds(tiny_tok):
    enc = encoder(tiny_tok)
    s = enc.encode("text", {"text": "abc"})
    assert mask(s, -1) == "1111"
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}]
    s = enc.encode("text", {"messages": msgs})
    assert tiny_tok.decode([t for t, lab in zip(s["input_ids"], s["labels"]) if lab != -100]) == "r" + IM_END


def test_smollm2_hand_checked(smol_tokenizer):
    tok = smol_tokenizer
    enc = encoder(tok, "tokenizer")
    s = enc.encode("conversations", {"messages": [
        {"role": "user", "content": "<image>\nWhat is it?"}, {"role": "assistant", "content": "A red cat."},
    ]}, ["img"])
    pairs = tagged(tok, s)
    assert [t for t, loss in pairs if loss] == ["A", "Ġred", "Ġcat", ".", IM_END]
    assert pairs[-1] == ("Ċ", False)  # the newline after the end of turn is not learned
    assert [t for t, _ in pairs].count("<image>") == K
    # the tokenizer template's default system prompt is there, without loss
    assert ("ĠFace", False) in pairs
    s = encoder(tok).encode("pairs", {"caption": "A red cat."}, ["img"])
    assert tagged(tok, s) == [("<|im_start|>", False), ("<image>", False), ("<image>", False), ("Ċ", False),
                              ("A", True), ("Ġred", True), ("Ġcat", True), (".", True), (IM_END, True)]
    s = encoder(tok).encode("interleaved", {"segments": [{"text": "Intro."}, {"image": 0}, {"text": "A dog."}]},
                            ["img"], {"loss_after_first_image": True})
    assert [t for t, loss in tagged(tok, s) if loss] == ["A", "Ġdog", ".", IM_END]
    s = encoder(tok, "vicuna_v1").encode("text", {"messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes"}]})
    assert [t for t, loss in tagged(tok, s) if loss] == ["ĠYes", IM_END]


@pytest.mark.parametrize("kind,content,images,reason", [
    ("pairs", {"caption": ""}, ["i"], "no caption"),
    ("pairs", {"caption": "x"}, [], "exactly one image"),
    ("conversations", {"messages": [{"role": "user", "content": "<image>"}]}, ["i"], "no assistant"),
    ("conversations", {"messages": [{"role": "user", "content": "<image><image>"},
                                    {"role": "assistant", "content": "a"}]}, ["i"], "marker"),
    ("conversations", {"messages": [{"role": "bot", "content": "a"}]}, [], "role"),
    ("conversations", {"messages": []}, [], "no messages"),
    ("interleaved", {"segments": [{"image": 3}]}, ["i"], "names image"),
    ("text", {"text": "see <image> here"}, [], "reserved"),
    ("video", {}, [], "unknown sample kind"),
])
def test_bad_samples_raise_one_line_value_error(tiny_tok, kind, content, images, reason):
    with pytest.raises(ValueError, match=reason) as err:
        encoder(tiny_tok).encode(kind, content, images)
    assert "\n" not in str(err.value)


def test_unknown_option_is_named(tiny_tok):
    with pytest.raises(ValueError, match="min_sim.*allowed: min_similarity"):
        encoder(tiny_tok).encode("interleaved", {"segments": [{"text": "a"}]}, [], {"min_sim": 0.3})


@pytest.mark.parametrize("kind,content,images,reason", [
    ("conversations", {"messages": [{"role": "user", "content": "<image><image>"}, {"role": "assistant", "content": "a"}]}, ["i"], "image_marker_mismatch"),
    ("conversations", {"messages": [{"role": "bot", "content": "a"}]}, [], "bad_messages"),
    ("conversations", {"messages": [{"role": "user", "content": "q"}]}, [], "no_assistant_turn"),
    ("pairs", {"caption": " "}, ["i"], "no_caption"),
    ("text", {"text": "a <image> b"}, [], "image_marker_mismatch"),
])
def test_skip_reasons(tiny_tok, kind, content, images, reason):
    from vlmkit.data.tokenize import SampleError

    with pytest.raises(SampleError) as err:
        encoder(tiny_tok).encode(kind, content, images)
    assert err.value.reason == reason
