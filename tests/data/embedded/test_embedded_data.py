"""The embedded default data: true captions, right sizes, train/eval separation, determinism, atomic builds."""

from __future__ import annotations

import re
import threading

import pytest
from streaming import StreamingDataset

from vlmkit.data import embedded
from vlmkit.data.embedded import easyvqa, emojis, sets
from vlmkit.data.embedded.cache import build_once
from vlmkit.data.images import decode_image
from vlmkit.data.schema import IMAGE_MARKER, unpack_images

TINY_SIZES = {"pairs": 24 + 8 + 4, "interleaved": 8, "conversations": 48, "names": 16, "text": 32, "vqa_test": 32, "emoji_test": 8}


def _read(folder) -> list[dict]:
    ds = StreamingDataset(local=str(folder), batch_size=1, shuffle=False)
    return [{**ds[i], "images": unpack_images(ds[i]["images"])} for i in range(len(ds))]


@pytest.fixture(scope="module")
def tiny(cache) -> dict[str, list[dict]]:
    return {name: _read(embedded.ensure(name, "tiny")) for name in embedded.DATASETS}


def _answer(question: str, image: easyvqa.ShapeImage) -> str | None:
    """The answer the image's inferred colour and shape imply, or None if they do not settle it."""
    words = question.rstrip("?").split()
    negated = "not" in words or "no" in words
    if question.startswith("what color") or question.startswith("what is the color"):
        return image.color
    if question.startswith("what"):
        return image.shape
    for attr, values in (("color", easyvqa.COLORS), ("shape", easyvqa.SHAPES)):
        named = [w for w in words if w in values]
        if named and getattr(image, attr):
            return "yes" if (named[0] == getattr(image, attr)) != negated else "no"
    return None


@pytest.mark.parametrize("split", easyvqa.SPLITS)
def test_inferred_colour_and_shape_agree_with_every_answer(split):
    images = easyvqa.load_split(split)
    checked = 0
    for image in images:
        for q in image.questions:
            implied = _answer(q.text, image)
            if implied is not None:
                assert implied == q.answer, (image.image_id, q.text, image.facts)
                checked += 1
    assert sum(bool(im.color and im.shape) for im in images) > 0.85 * len(images)
    assert checked > 0.9 * sum(len(im.questions) for im in images)


def test_tiny_builds_every_set_with_its_size_and_kind(tiny):
    for name, samples in tiny.items():
        assert len(samples) == TINY_SIZES[name], name
        assert {s["kind"] for s in samples} == {embedded.kind_of(name)}
        for s in samples:
            for data in s["images"]:
                assert min(decode_image(data).size) > 0


def test_pairs_captions(tiny):
    captions = {s["id"]: s["content"]["caption"] for s in tiny["pairs"]}
    shapes = {f"easyvqa-train-{im.image_id}": im.description() for im in easyvqa.load_split("train")}
    for sample_id, caption in captions.items():
        if sample_id in shapes:
            assert shapes[sample_id] in caption
        elif sample_id.startswith("emoji-"):
            assert caption == f"an emoji of {sample_id[len('emoji-'):]}"
        else:
            assert sample_id.startswith("photo-") and caption


def test_conversations_have_one_marker_per_image_and_one_word_answers(tiny):
    for name in ("conversations", "vqa_test"):
        for s in tiny[name]:
            messages = s["content"]["messages"]
            assert [m["role"] for m in messages] == ["user", "assistant"]
            assert messages[0]["content"].startswith(IMAGE_MARKER + "\n") and len(s["images"]) == 1
            assert messages[1]["content"] in easyvqa.COLORS + easyvqa.SHAPES + ("yes", "no")


def test_multi_turn_conversations_mark_the_image_once():
    samples = list(sets.conversations(sets.SCALES["tiny"], 0, turns=4))
    for _, content, images in samples:
        messages = content["messages"]
        assert sum(m["content"].count(IMAGE_MARKER) for m in messages) == len(images) == 1
        assert 2 <= len(messages) <= 8 and messages[0]["content"].startswith(IMAGE_MARKER)


@pytest.mark.parametrize("types", [["color"], ["color", "shape"], ["yes/no"]])
def test_conversations_keep_only_the_question_types_asked_for(types):
    kept = list(sets.conversations(sets.SCALES["default"], 0, types=types))
    answers = [m["content"] for _, content, _ in kept for m in content["messages"] if m["role"] == "assistant"]
    everything = [q for im in easyvqa.load_split("train") for q in im.questions]
    assert len(answers) == sum(q.type in types for q in everything) > 0
    assert {easyvqa.Question("", a).type for a in answers} == set(types)


def test_conversation_types_are_checked_and_name_their_folder():
    from vlmkit.data.embedded.named import embedded_conversations

    assert embedded_conversations(types=["yes/no", "color"]).local.endswith("-turns1-typescolor+yesno")
    with pytest.raises(ValueError, match="types must be a non-empty list of color, shape, yes/no; got \\['colour'\\]"):
        embedded_conversations(types=["colour"])


def test_naming_episodes_bind_names_in_context_on_training_emoji(tiny):
    from vlmkit.data.embedded import naming

    for s in tiny["names"]:
        messages = s["content"]["messages"]
        names = [m["content"] for m in messages if m["role"] == "assistant"]
        assert len(messages) == 6 and len(s["images"]) == 3 and [m["role"] for m in messages] == ["user", "assistant"] * 3
        assert all(m["content"] == f"{IMAGE_MARKER}\n{naming.QUESTION}" for m in messages[::2])
        assert len(set(names[:2])) == 2 and names[2] in names[:2] and not set(names) & set(naming.EVAL_NAMES)
        # the query is the shot with the same name, on another background
        shot = decode_image(s["images"][names.index(names[2])])
        query = decode_image(s["images"][2])
        assert shot.getpixel((0, 0)) == (255, 255, 255) and query.getpixel((0, 0)) != (255, 255, 255)
    words = {n for s in tiny["names"] for m in s["content"]["messages"] if m["role"] == "assistant" for n in [m["content"]]}
    assert len(words) > len(tiny["names"])  # fresh words per episode: no list to memorise


def test_interleaved_documents_put_each_picture_before_its_sentence(tiny):
    for s in tiny["interleaved"]:
        segments = s["content"]["segments"]
        images = [i for i, seg in enumerate(segments) if "image" in seg]
        assert [segments[i]["image"] for i in images] == list(range(len(s["images"]))) and 2 <= len(images) <= 4
        for k, i in enumerate(images):
            assert segments[i + 1]["text"].startswith(f"Picture {k + 1} shows ")
            assert 0.3 < segments[i]["similarity"] < 0.5
        assert re.match(r"Pictures? \d", segments[-1]["text"])  # a sentence relating two pictures


def test_training_sets_never_use_evaluation_images(tiny):
    train_ids = {s["id"] for name in ("pairs", "interleaved", "conversations") for s in tiny[name]}
    assert not any("easyvqa-test" in i for i in train_ids)
    assert all(s["id"].startswith("easyvqa-test-") for s in tiny["vqa_test"])
    heldout = {e.name for e in emojis.split(True)}
    trained = {e.name for e in emojis.split(False)}
    assert not heldout & trained and 0.05 < len(heldout) / (len(heldout) + len(trained)) < 0.15
    assert {s["id"][len("emoji-"):] for s in tiny["emoji_test"]} <= heldout
    train_emoji = {s["id"][len("emoji-"):] for s in tiny["pairs"] if s["id"].startswith("emoji-")}
    assert train_emoji and train_emoji <= trained


def test_text_answers_are_right(tiny):
    checks = [
        (r"What is (-?\d+) ([-+*]) (-?\d+)\?", lambda a, op, b: f"{a} {op} {b} = {eval(f'{a}{op}{b}')}."),
        (r"Spell the word '(\w+)' backwards\.", lambda w: w[::-1]),
        (r"How many letters are in the word '(\w+)'\?", lambda w: str(len(w))),
        (r"Sort these numbers from smallest to largest: ([\d, ]+)\.", lambda s: ", ".join(map(str, sorted(map(int, s.split(", ")))))),
        (r"Write '(\w+)' in capital letters\.", str.upper),
        (r"What is the first letter of '(\w+)'\?", lambda w: w[0]),
    ]
    for s in tiny["text"]:
        user, assistant = (m["content"] for m in s["content"]["messages"])
        matched = [(m, fn) for pattern, fn in checks if (m := re.fullmatch(pattern, user))]
        assert len(matched) == 1, user
        m, fn = matched[0]
        assert assistant == fn(*m.groups())


def test_default_scale_uses_the_whole_easyvqa_train_split():
    assert sum(1 for _ in sets.conversations(sets.SCALES["default"], 0)) == 38_575
    assert sum(1 for _ in sets.vqa_test(sets.SCALES["default"], 0)) == 9_673


def test_builds_are_deterministic(tmp_path):
    for name in ("interleaved", "text"):
        embedded.write(name, tmp_path / f"{name}-a", "tiny", seed=3)
        embedded.write(name, tmp_path / f"{name}-b", "tiny", seed=3)
        shard = "shard.00000.mds"
        assert (tmp_path / f"{name}-a" / shard).read_bytes() == (tmp_path / f"{name}-b" / shard).read_bytes()
    embedded.write("text", tmp_path / "other-seed", "tiny", seed=4)
    assert (tmp_path / "other-seed" / shard).read_bytes() != (tmp_path / "text-a" / shard).read_bytes()


def test_parallel_builders_end_with_one_complete_copy(cache):
    paths, errors = [], []

    def build():
        try:
            paths.append(embedded.ensure("text", "tiny", seed=11))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(paths)) == 1
    assert len(_read(paths[0])) == TINY_SIZES["text"]
    assert not [p for p in paths[0].parent.iterdir() if ".building-" in p.name]


def test_losing_the_rename_race_keeps_the_winner(tmp_path):
    target = tmp_path / "set"

    def build(tmp):  # another process finishes first, while this one is still building
        embedded.write("text", target, "tiny")
        embedded.write("text", tmp, "tiny", seed=5)

    assert build_once(target, build) == target
    assert _read(target)[0]["content"] == next(sets.text(sets.SCALES["tiny"], 0))[1]
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_unknown_names_and_scales_are_clear_errors():
    with pytest.raises(ValueError, match="unknown embedded dataset 'pair'.*pairs"):
        embedded.dataset_dir("pair")
    with pytest.raises(ValueError, match="unknown scale 'huge'.*tiny, default"):
        embedded.dataset_dir("pairs", "huge")
