"""Run a task on a model: prompts (with optional in-context shots), batched replies, official scores.

``evaluate(model, task, shots=0, ...)`` -> :class:`EvalResult` (scores, every prediction, skipped
records by reason). Prompts are built once (text only), sorted by length and batched so padding
stays small; images are opened per batch and each distinct image is encoded once. An example whose image cannot be read is skipped and
counted, never a crash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from vlmkit.eval.fewshot import build_selector, image_embedder
from vlmkit.eval.generate import GenerationConfig, generate
from vlmkit.eval.images import FeatureCache, ImageCache, ImageError
from vlmkit.eval.intervals import score_intervals
from vlmkit.eval.likelihood import continuation_logprobs
from vlmkit.eval.metrics import mmlu_choice
from vlmkit.eval.prompts import PromptBuilder
from vlmkit.eval.results import EvalResult
from vlmkit.eval.scoring import score_replies
from vlmkit.eval.tasks.base import Example, ImageSource, Task

Progress = Callable[[int, int], None]


@dataclass
class _Prepared:
    example: Example
    ids: list[int]
    images: list[ImageSource]
    tensors: list[torch.Tensor] = field(default_factory=list)  # its images' pixels, [3, H, W] each


def _load_batch(batch: list[tuple[int, _Prepared]], images: ImageCache, task: Task) -> list[tuple[int, _Prepared]]:
    """The batch's entries whose images open (their tensors filled in); the others are counted."""
    ok = []
    for j, p in batch:
        try:
            p.tensors = [images(src) for src in p.images]
        except ImageError as exc:
            task.skip(exc.reason)
            continue
        except FileNotFoundError:
            task.skip("missing_image")
            continue
        ok.append((j, p))
    return ok


def _generate(model, builder, task, batch, generation: GenerationConfig, features: FeatureCache) -> list[str]:
    outs = generate(model, [p.ids for p in batch], config=generation, features=[features(p.images, p.tensors) for p in batch])
    return [o.text for o in outs]


def _likelihood(model, builder, task, batch, generation: GenerationConfig, features: FeatureCache) -> list[str]:
    replies = []
    for p in batch:
        options = p.example.options or []
        scores = continuation_logprobs(model, p.ids, [builder.option_ids(o) for o in options], p.tensors)
        replies.append(options[mmlu_choice(scores)])
    return replies


RUNNERS = {"generate": _generate, "likelihood": _likelihood}


def evaluate(
    model,
    task: Task,
    *,
    shots: int = 0,
    shot_method: str = "random",
    seed: int = 0,
    limit: int | None = None,
    batch_size: int = 8,
    chat_template: str = "tokenizer",
    generation: GenerationConfig | None = None,
    max_new_tokens: int | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Evaluate ``model`` (a VisionLanguageModel) on ``task``.

    ``shots``: in-context examples per query from the task's support split, chosen by
    ``shot_method`` (``random`` or ``rices``) with ``seed``. ``limit``: the first N examples only.
    ``generation``: decoding settings (default: greedy, ``max_new_tokens`` or else the task's own).
    """
    runner = RUNNERS.get(task.mode)
    if runner is None:
        raise ValueError(f"task {task.name!r} has mode {task.mode!r}; expected one of {', '.join(RUNNERS)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    start = time.perf_counter()
    model.eval()
    examples = task.examples()
    examples = examples[:limit] if limit else examples
    images = ImageCache(model.image_transform)
    features = FeatureCache(model)  # easy-VQA asks ~10 questions per image: each is encoded once
    support = task.support() if shots else []
    selector = build_selector(shot_method, support, shots, seed, embed=image_embedder(model, images)) if shots else None
    builder = PromptBuilder(model, chat_template)
    prepared = []
    for i, ex in enumerate(examples):
        chosen = selector.select(i, ex) if selector else []
        ids, srcs = builder.encode(task, ex, chosen)
        prepared.append(_Prepared(ex, ids, srcs))
    generation = generation or GenerationConfig(max_new_tokens=max_new_tokens or task.max_new_tokens,
                                                stop=() if task.chat else (task.shot_separator,))
    order = sorted(range(len(prepared)), key=lambda j: len(prepared[j].ids))
    replies: dict[int, str] = {}
    for b in range(0, len(order), batch_size):
        loaded = _load_batch([(j, prepared[j]) for j in order[b : b + batch_size]], images, task)
        if loaded:
            replies.update(zip([j for j, _ in loaded], runner(model, builder, task, [p for _, p in loaded], generation, features)))
        if progress is not None:
            progress(min(b + batch_size, len(order)), len(order))
    done = sorted(replies)
    scored = [prepared[j].example for j in done]
    predictions, scores = score_replies(task, scored, [replies[j] for j in done])
    return EvalResult(
        task=task.name, shots=shots, shot_method=shot_method if shots else None, seed=seed, scores=scores,
        predictions=predictions, skipped=dict(task.skipped), num_examples=len(examples), seconds=time.perf_counter() - start,
        intervals=score_intervals(task, predictions, scores, seed), baselines=task.baselines(scored),
        item_scores={k: {str(i): v for i, v in items.items()} for k, items in task.item_values(predictions).items() if k in scores},
    )


def evaluate_many(model, tasks: Sequence[Task], **kwargs: Any) -> list[EvalResult]:
    """:func:`evaluate` each task in turn with the same settings."""
    return [evaluate(model, t, **kwargs) for t in tasks]
