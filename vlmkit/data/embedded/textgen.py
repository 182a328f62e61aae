"""Text-only conversations generated deterministically: arithmetic, word games, sorting.

Each task draws from a seeded ``random.Random``; answers are computed, so they are always right.
Words come from the emoji names (``emoji`` package) so no word list has to ship.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Callable

Task = Callable[[random.Random, list[str]], tuple[str, str]]


@lru_cache(maxsize=1)
def words() -> list[str]:
    """Lower-case alphabetic words of 4 to 9 letters from the emoji names, sorted."""
    import emoji

    found = set()
    for data in emoji.EMOJI_DATA.values():
        found.update(w for w in re.findall(r"[a-z]+", data["en"].lower()) if 4 <= len(w) <= 9)
    return sorted(found)


def _arithmetic(rng: random.Random, _: list[str]) -> tuple[str, str]:
    a, b = rng.randint(0, 99), rng.randint(0, 99)
    op = rng.choice("+-*")
    result = {"+": a + b, "-": a - b, "*": a * b}[op]
    return f"What is {a} {op} {b}?", f"{a} {op} {b} = {result}."


def _reverse(rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    word = rng.choice(vocab)
    return f"Spell the word '{word}' backwards.", word[::-1]


def _length(rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    word = rng.choice(vocab)
    return f"How many letters are in the word '{word}'?", str(len(word))


def _sort(rng: random.Random, _: list[str]) -> tuple[str, str]:
    numbers = rng.sample(range(100), rng.randint(3, 6))
    shown = ", ".join(map(str, numbers))
    return f"Sort these numbers from smallest to largest: {shown}.", ", ".join(map(str, sorted(numbers)))


def _upper(rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    word = rng.choice(vocab)
    return f"Write '{word}' in capital letters.", word.upper()


def _first_letter(rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    word = rng.choice(vocab)
    return f"What is the first letter of '{word}'?", word[0]


TASKS: tuple[Task, ...] = (_arithmetic, _reverse, _length, _sort, _upper, _first_letter)


def family(task: Task) -> str:
    """A task's short name: ``arithmetic``, ``reverse``, ``length``, ``sort``, ``upper``, ``first_letter``."""
    return task.__name__.lstrip("_")


def items(count: int, seed: int) -> list[tuple[str, str, str]]:
    """``count`` ``(family, question, answer)`` triples, families in rotation."""
    rng = random.Random(seed)
    vocab = words()
    rotation = [TASKS[i % len(TASKS)] for i in range(count)]
    return [(family(task), *task(rng, vocab)) for task in rotation]


def conversations(count: int, seed: int) -> list[list[dict[str, str]]]:
    """``count`` single-turn conversations (schema messages), tasks in rotation."""
    return [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for _, q, a in items(count, seed)]
