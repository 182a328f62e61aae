"""Examples (plus in-context shots) -> prompt token ids, through the training tokenization.

Chat tasks become a conversation: each shot a user turn (its images marked) and an assistant
turn (its answer), then the query's user turn; the recipe's chat template renders it and
:meth:`~vlmkit.data.tokenize.SampleEncoder.encode_prompt` expands the image runs, exactly as in
training. Plain tasks (``chat = False``) concatenate ``preamble + shot + answer + separator ... +
query`` as raw text after the tokenizer's BOS.
"""

from __future__ import annotations

from typing import Sequence

from vlmkit.data.schema import IMAGE_MARKER
from vlmkit.data.tokenize import Rendered, SampleEncoder, tokenize_rendered
from vlmkit.eval.tasks.base import Example, ImageSource, Task


def marked(example: Example) -> str:
    """The example's prompt with one ``<image>`` marker per image (prepended when it has none)."""
    found = example.prompt.count(IMAGE_MARKER)
    if found == len(example.images):
        return example.prompt
    if found:
        raise ValueError(f"example {example.id!r}: {found} <image> marker(s) for {len(example.images)} image(s)")
    return f"{IMAGE_MARKER}\n" * len(example.images) + example.prompt


def _answer(shot: Example) -> str:
    if shot.answer is None:
        raise ValueError(f"support example {shot.id!r} has no answer to show as an in-context shot")
    return shot.answer


class PromptBuilder:
    """Builds prompt ids for one model and chat template (a registered name or ``"tokenizer"``)."""

    def __init__(self, model, chat_template: str = "tokenizer") -> None:
        self.model = model
        self.encoder = SampleEncoder.for_model(model, chat_template)

    def messages(self, example: Example, shots: Sequence[Example] = ()) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for shot in shots:
            out += [{"role": "user", "content": marked(shot)}, {"role": "assistant", "content": _answer(shot)}]
        return out + [{"role": "user", "content": marked(example)}]

    def text(self, task: Task, example: Example, shots: Sequence[Example] = ()) -> str:
        parts = [marked(s) + _answer(s) for s in shots] + [marked(example)]
        return task.preamble(example) + task.shot_separator.join(parts)

    def encode(self, task: Task, example: Example, shots: Sequence[Example] = ()) -> tuple[list[int], list[ImageSource]]:
        """``(input_ids, images)``: the prompt ids (image runs expanded) and its images in order.
        ``shots`` (drawn from a support split) come first, then the example's own ``shots``."""
        shots = [*shots, *example.shots]
        images = [im for s in shots for im in s.images] + list(example.images)
        if task.chat:
            return self.encoder.encode_prompt(self.messages(example, shots), images), images
        rendered = Rendered(self.text(task, example, shots), (), tuple(range(len(images))))
        ids, _ = tokenize_rendered(
            self.encoder.tokenizer, rendered, image_token_id=self.encoder.image_token_id, num_image_tokens=self.encoder.num_image_tokens
        )
        return self.encoder.bos_ids + ids, images

    def option_ids(self, option: str) -> list[int]:
        """Token ids of a likelihood-mode continuation."""
        return self.encoder.tokenizer(option, add_special_tokens=False)["input_ids"]
