"""The embedded datasets, as generators of schema samples ``(id, content, images)``.

Training sets use only easy-vqa *train* images and the non-held-out emoji; ``vqa_test`` (easy-vqa
test split, conversations with the answer as the assistant turn) and ``emoji_test`` (held-out emoji,
pairs) are for evaluation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Sequence, TypeVar

from vlmkit.data.embedded import easyvqa, emojis, naming, photos, textgen
from vlmkit.data.images import encode_png
from vlmkit.data.schema import IMAGE_MARKER

Sample = tuple[str, dict[str, Any], list[bytes]]
T = TypeVar("T")


@dataclass(frozen=True)
class Scale:
    """How much of each source a scale uses (None: all of it)."""

    vqa_images: int | None  # easy-vqa train images in pairs, conversations and documents
    vqa_questions: int | None  # cap on training conversations
    vqa_test_questions: int | None
    emoji: int | None  # training emoji
    emoji_heldout: int | None
    photos: int | None
    documents: int
    text: int
    episodes: int  # in-context naming conversations


SCALES = {
    "tiny": Scale(vqa_images=24, vqa_questions=48, vqa_test_questions=32, emoji=8, emoji_heldout=8, photos=4, documents=8, text=32, episodes=16),
    "default": Scale(vqa_images=None, vqa_questions=None, vqa_test_questions=None, emoji=None, emoji_heldout=None, photos=None,
                     documents=2000, text=6000, episodes=4000),
}

PAIR_TEMPLATES = ("{}", "a picture of {}", "an image of {}", "{} on a plain background")
INTROS = ("Here are {k} pictures.", "This page shows {k} images.", "Look at these {k} pictures.")


def take(items: Sequence[T], n: int | None, rng: random.Random) -> list[T]:
    """``n`` items chosen by ``rng`` (all when ``n`` is None), in their original order."""
    if n is None or n >= len(items):
        return list(items)
    return [items[i] for i in sorted(rng.sample(range(len(items)), n))]


@dataclass(frozen=True)
class Picture:
    """An image with what a caption may say about it."""

    id: str
    data: bytes
    description: str
    facts: dict[str, str]


@lru_cache(maxsize=4)
def _vqa_pictures(scale: Scale, seed: int) -> tuple[Picture, ...]:
    chosen = take(easyvqa.load_split("train"), scale.vqa_images, random.Random(seed))
    return tuple(
        Picture(f"easyvqa-train-{im.image_id}", easyvqa.image_bytes(im.path), im.description(), {"kind": "shape drawing", **im.facts})
        for im in chosen
    )


@lru_cache(maxsize=4)
def _emoji_pictures(heldout: bool, n: int | None, seed: int) -> tuple[Picture, ...]:
    chosen = take(emojis.split(heldout), n, random.Random(seed + 1))
    return tuple(Picture(f"emoji-{e.name}", emojis.render_png(e.char), e.caption(), {"kind": "emoji", "emoji": e.name}) for e in chosen)


def pairs(scale: Scale, seed: int) -> Iterator[Sample]:
    """easy-vqa train images ("a picture of a red circle"), training emoji, scikit-image photos."""
    rng = random.Random(seed + 2)
    for pic in _vqa_pictures(scale, seed):
        yield pic.id, {"caption": rng.choice(PAIR_TEMPLATES).format(pic.description)}, [pic.data]
    for pic in _emoji_pictures(False, scale.emoji, seed):
        yield pic.id, {"caption": pic.description}, [pic.data]
    for name, caption in take(photos.photos(), scale.photos, random.Random(seed + 3)):
        yield f"photo-{name}", {"caption": caption}, [photos.photo_jpeg(name)]


def emoji_test(scale: Scale, seed: int) -> Iterator[Sample]:
    """Held-out emoji, caption ``"an emoji of {name}"``; none of them is in any training set."""
    for pic in _emoji_pictures(True, scale.emoji_heldout, seed):
        yield pic.id, {"caption": pic.description}, [pic.data]


def conversations(scale: Scale, seed: int, turns: int = 1, types: Sequence[str] = easyvqa.QUESTION_TYPES) -> Iterator[Sample]:
    """easy-vqa train questions of the question ``types`` (see ``easyvqa.QUESTION_TYPES``),
    ``turns`` questions about one image per conversation."""
    if turns < 1:
        raise ValueError(f"turns must be at least 1, got {turns}")
    rng = random.Random(seed + 4)
    chosen = take(easyvqa.load_split("train"), scale.vqa_images, random.Random(seed))
    samples = []
    for im in chosen:
        data = easyvqa.image_bytes(im.path)
        asked = [(k, q) for k, q in enumerate(im.questions) if q.type in types]
        for start in range(0, len(asked), turns):
            group = asked[start : start + turns]
            messages = easyvqa.vqa_messages([q for _, q in group])
            samples.append((f"easyvqa-train-{im.image_id}-q{group[0][0]}", {"messages": messages}, [data]))
    yield from take(samples, scale.vqa_questions, rng)


def names(scale: Scale, seed: int, ways: int = 2, shots_per_way: int = 1) -> Iterator[Sample]:
    """In-context naming episodes over the training emoji with fresh nonsense names (the
    evaluation uses held-out emoji and its own names): shots as question/answer turns, then the
    query on a random grey background."""
    rng = random.Random(seed + 7)
    pool = take(emojis.split(False), scale.emoji, random.Random(seed + 1))
    turn = {"role": "user", "content": f"{IMAGE_MARKER}\n{naming.QUESTION}"}
    for e in range(scale.episodes):
        ep = naming.episode(rng, pool, None, ways, shots_per_way)
        images = [naming.rendering(emo.char, 255, shift) for emo, _, shift in ep.shots]
        images.append(naming.rendering(ep.query.char, rng.randint(200, 240), rng.randint(3, 7)))
        messages = [m for _, name, _ in ep.shots for m in (turn, {"role": "assistant", "content": name})]
        messages += [turn, {"role": "assistant", "content": ep.answer}]
        yield f"names-{e}", {"messages": messages}, [encode_png(image) for image in images]


def vqa_test(scale: Scale, seed: int) -> Iterator[Sample]:
    """easy-vqa test questions, one per conversation; the assistant turn is the reference answer."""
    samples = []
    for im in easyvqa.load_split("test"):
        data = easyvqa.image_bytes(im.path)
        for k, q in enumerate(im.questions):
            samples.append((f"easyvqa-test-{im.image_id}-q{k}", {"messages": easyvqa.vqa_messages([q])}, [data]))
    yield from take(samples, scale.vqa_test_questions, random.Random(seed + 5))


def _compare(a: int, b: int, pa: Picture, pb: Picture) -> str:
    for key, phrase in (("shape", "both show a {}"), ("color", "are both {}"), ("kind", "are both {}s")):
        if key in pa.facts and pa.facts.get(key) == pb.facts.get(key):
            return f"Pictures {a + 1} and {b + 1} {phrase.format(pa.facts[key])}."
    return f"Picture {a + 1} shows {pa.description}, while picture {b + 1} shows {pb.description}."


def interleaved(scale: Scale, seed: int) -> Iterator[Sample]:
    """Documents of 2-4 pictures, each placed before the sentence that describes it, then
    sentences comparing pictures by number (MMC4's layout; similarities 0.32-0.48)."""
    rng = random.Random(seed + 6)
    pool = list(_vqa_pictures(scale, seed) + _emoji_pictures(False, scale.emoji, seed))
    for d in range(scale.documents):
        chosen = rng.sample(pool, rng.randint(2, 4))
        segments: list[dict[str, Any]] = [{"text": rng.choice(INTROS).format(k=len(chosen))}]
        for i, pic in enumerate(chosen):
            segments.append({"image": i, "similarity": round(rng.uniform(0.32, 0.48), 4)})
            segments.append({"text": f"Picture {i + 1} shows {pic.description}."})
        for _ in range(rng.randint(1, 2)):
            a, b = sorted(rng.sample(range(len(chosen)), 2))
            segments.append({"text": _compare(a, b, chosen[a], chosen[b])})
        yield f"doc-{d}", {"segments": segments}, [pic.data for pic in chosen]


def text(scale: Scale, seed: int) -> Iterator[Sample]:
    """Arithmetic and word-game conversations with no image."""
    for i, messages in enumerate(textgen.conversations(scale.text, seed)):
        yield f"text-{i}", {"messages": messages}, []
