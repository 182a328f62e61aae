"""lmms-eval's model protocol over a vlmkit model, so lmms-eval's tasks run on any vlmkit model or
export: ``lmms-eval --model vlmkit --model_args pretrained=OUT --tasks mme,...`` once the ``lmms``
extra is installed (``pip install 'vlmkit[lmms]'``; see ``docs/evaluation.md``).

:class:`LMMSBridge` holds the request handling and imports nothing from lmms-eval;
:mod:`vlmkit.eval.lmms_model` makes it an ``lmms_eval.api.model.lmms`` subclass, and
:func:`manifest` registers that with lmms-eval (entry-point group ``lmms_eval.models``).

Requests are lmms-eval's "simple" ones (``Instance.args``):

- ``generate_until``: ``(context, gen_kwargs, doc_to_visual, doc_id, task, split)``; the images are
  ``doc_to_visual(task_dict[task][split][doc_id])``. ``context`` becomes the user turn (with
  ``<image>`` markers, or the images first), rendered by the model's chat template; ``gen_kwargs``:
  ``until`` (str or list: the reply is cut before the first), ``max_new_tokens``, ``temperature``
  (0: greedy), ``top_p``, ``do_sample``; ``num_beams`` above 1 is refused.
- ``loglikelihood``: ``(context, doc_to_target, doc_to_visual, doc_id, task, split)``;
  ``doc_to_target`` is the continuation or a function of the document giving it. Returns
  ``(sum of the continuation's token log-probabilities, whether greedy decoding gives it)``,
  the continuation scored as the assistant's reply.

``model_args``: ``pretrained``, ``device`` (auto), ``dtype`` (fp32), ``max_new_tokens`` (1024 when a
task sets none), ``chat_template`` (the model's), ``batch_size`` (1; lmms-eval passes its own).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

class LMMSBridge:
    """``generate_until`` / ``loglikelihood`` for lmms-eval on ``model`` (a VisionLanguageModel)."""

    def __init__(self, pretrained: str | None = None, device: str = "auto", dtype: str = "fp32", max_new_tokens: int | str = 1024,
                 chat_template: str | None = None, batch_size: int | str = 1, model: Any = None) -> None:
        if model is None:
            if not pretrained:
                raise ValueError("the vlmkit lmms-eval model needs pretrained=PATH (an exported folder, a llava-hf folder or a recipe)")
            from vlmkit.eval.loading import load_model

            loaded = load_model(pretrained, device=device, dtype=dtype)
            model, chat_template = loaded.model, chat_template or loaded.chat_template
        from vlmkit.data.tokenize import SampleEncoder

        self.model = model
        self.encoder = SampleEncoder.for_model(model, chat_template or getattr(model, "chat_template", None) or "tokenizer")
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.task_dict: dict = getattr(self, "task_dict", {})  # filled by lmms-eval's evaluator

    # -- lmms-eval's protocol -------------------------------------------------------------------

    def generate_until(self, requests: Sequence[Any]) -> list[str]:
        """Replies in request order; consecutive requests with the same ``gen_kwargs`` are decoded
        together, ``batch_size`` at a time."""
        from vlmkit.eval.generate import generate

        replies: list[str] = []
        for batch in batches([r.args for r in requests], self.batch_size):
            config, until = self.generation_config(batch[0][1])
            images = [self.visuals(doc_to_visual, task, split, doc_id) for _, _, doc_to_visual, doc_id, task, split in batch]
            prompts = [self.prompt(args[0], ims) for args, ims in zip(batch, images)]
            outputs = generate(self.model, prompts, [self.pixels(ims) for ims in images], config)
            replies.extend(cut(out.text, until) for out in outputs)
        return replies

    def loglikelihood(self, requests: Sequence[Any]) -> list[tuple[float, bool]]:
        return [self.score(*request.args) for request in requests]

    def generate_until_multi_round(self, requests: Sequence[Any]) -> list[str]:
        raise NotImplementedError("the vlmkit lmms-eval model answers single-round requests (generate_until, loglikelihood)")

    # -- pieces ---------------------------------------------------------------------------------

    def document(self, task: str, split: str, doc_id: Any) -> Any:
        try:
            return self.task_dict[task][split][doc_id]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"lmms-eval request for document {doc_id!r} of {task}/{split}: not in task_dict (lmms-eval's evaluator fills it)") from None

    def visuals(self, doc_to_visual: Callable[[Any], Any] | None, task: str, split: str, doc_id: Any) -> list[Any]:
        """The request's images (nested lists flattened, ``None`` dropped); anything but a PIL
        image (a video path, audio) is refused by name."""
        if doc_to_visual is None:
            return []
        found = doc_to_visual(self.document(task, split, doc_id))
        flat = list(flatten(found if isinstance(found, (list, tuple)) else [found]))
        others = sorted({type(v).__name__ for v in flat if not _is_pil(v)})
        if others:
            raise ValueError(f"task {task!r} gives {', '.join(others)} visuals; vlmkit models take images (PIL) only")
        return flat

    def prompt(self, context: str, images: Sequence[Any]) -> list[int]:
        return self.encoder.encode_prompt([{"role": "user", "content": context}], list(images))

    def pixels(self, images: Sequence[Any]) -> list[Any]:
        return [self.model.image_transform(im.convert("RGB")) for im in images]

    def generation_config(self, gen_kwargs: dict[str, Any] | None):
        """``(GenerationConfig, until)`` from lmms-eval's ``gen_kwargs``."""
        from vlmkit.eval.generate import GenerationConfig

        kw = dict(gen_kwargs or {})
        if int(kw.get("num_beams") or 1) > 1:
            raise ValueError(f"gen_kwargs num_beams={kw['num_beams']}: vlmkit decodes greedily or by sampling (num_beams 1)")
        until = kw.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        temperature = float(kw.get("temperature") or 0.0)
        sample = bool(kw.get("do_sample", temperature > 0)) and temperature > 0
        config = GenerationConfig(
            max_new_tokens=int(kw.get("max_new_tokens") or self.max_new_tokens), do_sample=sample,
            temperature=temperature if sample else 1.0, top_p=float(kw.get("top_p") or 1.0), stop=tuple(until),
        )
        return config, until

    def score(self, context: str, doc_to_target: Any, doc_to_visual: Any, doc_id: Any, task: str, split: str) -> tuple[float, bool]:
        """``(log p(continuation | context), greedy)`` with the continuation as the assistant's reply."""
        import torch

        continuation = doc_to_target if isinstance(doc_to_target, str) else doc_to_target(self.document(task, split, doc_id))
        images = self.visuals(doc_to_visual, task, split, doc_id)
        prompt = self.prompt(context, images)
        target = self.model.tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if not target:
            raise ValueError(f"task {task!r}, document {doc_id!r}: the continuation {continuation!r} has no tokens")
        parameter = next(self.model.parameters())
        ids = torch.tensor([prompt + target], device=parameter.device)
        pixels = torch.stack(self.pixels(images)).to(parameter.device, parameter.dtype) if images else None
        with torch.no_grad():
            logits = self.model(ids, pixels).logits[0, len(prompt) - 1 : -1].float()
        expected = torch.tensor(target, device=logits.device)
        logprob = logits.log_softmax(-1).gather(-1, expected[:, None]).sum()
        return float(logprob), bool((logits.argmax(-1) == expected).all())


def batches(args: Sequence[tuple], size: int) -> list[list[tuple]]:
    """Consecutive requests sharing ``gen_kwargs`` (``args[1]``), at most ``size`` per batch."""
    out: list[list[tuple]] = []
    for a in args:
        if out and len(out[-1]) < size and out[-1][0][1] == a[1]:
            out[-1].append(a)
        else:
            out.append([a])
    return out


def cut(text: str, until: Sequence[str]) -> str:
    """``text`` up to the first of the ``until`` strings."""
    ends = [text.find(u) for u in until if u and u in text]
    return text[: min(ends)] if ends else text


def flatten(items: Sequence[Any]):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from flatten(item)
        elif item is not None:
            yield item


def _is_pil(value: Any) -> bool:
    from PIL import Image

    return isinstance(value, Image.Image)


def manifest():
    """lmms-eval's registration of the ``vlmkit`` model (entry point ``lmms_eval.models``)."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id="vlmkit", simple_class_path="vlmkit.eval.lmms_model.VlmkitLMMS")
