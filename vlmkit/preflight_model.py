"""Preflight checks that need the model: its parts built on the meta device (no weights, no memory).

Each factory is called with the recipe's options, so an option it refuses (a misspelled key
swallowed by ``**options``, ``hidden_size: -64``, heads that do not divide the width) becomes one
line naming the component's key path and the distribution it came from. The declared shapes are
then run through the parts: the encoder's ``[1, num_tokens, hidden_size]``, the projector's
``[1, num_output_tokens, out_dim]``. Finally each stage is checked against the built model: its
``llm_trainable_layers`` against the LLM's layer count, its ``max_seq_len`` against the image
tokens of one image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from vlmkit.model.build import PART_KINDS, BuildContext, call_factory
from vlmkit.registry import Registries

if TYPE_CHECKING:
    from vlmkit.config import Recipe

#: Text tokens a sequence must hold beside one image (a prompt and an answer of a few tokens).
MIN_TEXT_TOKENS = 8
ENCODER_ATTRIBUTES = ("hidden_size", "num_tokens", "grid", "image_transform")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Builder:
    """Builds the recipe's parts on the meta device, recording one problem line per failure."""

    def __init__(self, recipe: "Recipe", regs: Registries, problems: list[str]) -> None:
        self.model, self.regs, self.problems = recipe.model, regs, problems

    def label(self, part: str) -> str:
        kind, name = PART_KINDS[part], getattr(self.model, part).name
        return f"{kind[:-1].replace('_', ' ')} {name!r} (from {self.regs.kind(kind).entry(name).source})"

    def build(self, part: str, context: BuildContext) -> Any:
        comp = getattr(self.model, part)
        factory = self.regs.kind(PART_KINDS[part]).get(comp.name)
        try:
            return call_factory(PART_KINDS[part], factory, comp.options(), context)
        except Exception as exc:  # a plugin's factory may raise anything; name it instead of a traceback
            self.problems.append(f"model.{part}: {self.label(part)} cannot be built with these options: {_one_line(exc)}")
            return None

    def forward(self, part: str, module: Any, shape: tuple[int, ...], expected: tuple[int, ...], what: str) -> None:
        """Run a meta tensor of ``shape`` through ``module``; its output must be ``expected``.

        A forward that cannot run on the meta device (an operation without a meta kernel, or a
        data-dependent one such as ``.item()``) is not judged: it may well run on real tensors."""
        try:
            with torch.no_grad(), torch.device("meta"):
                got = tuple(module(torch.empty(shape)).shape)
        except Exception:  # noqa: BLE001  (see the docstring: not a verdict on the component)
            return
        if got != expected:
            self.problems.append(
                f"model.{part}: {self.label(part)} declares output {list(expected)} for input {list(shape)} "
                f"but gives {list(got)}; make {what} match what forward returns"
            )


def _encoder_ok(b: _Builder, vision: Any) -> bool:
    missing = [a for a in ENCODER_ATTRIBUTES if not hasattr(vision, a)]
    if missing:
        b.problems.append(
            f"model.vision_encoder: {b.label('vision_encoder')} sets no {', '.join(missing)}; "
            "a VisionEncoder assigns hidden_size, num_tokens, grid and image_transform in __init__"
        )
        return False
    return True


def _pixel_shape(vision: Any) -> tuple[int, ...] | None:
    """``[3, S, S]`` from the encoder's image transform applied to a small image, if it runs."""
    from PIL import Image

    try:
        return tuple(vision.image_transform(Image.new("RGB", (8, 8))).shape)
    except Exception:
        return None


def build_meta_parts(recipe: "Recipe", regs: Registries, skip: set[str], problems: list[str]) -> dict[str, Any]:
    """``{part: module}`` for every part that builds on the meta device (parts in ``skip`` and
    parts whose inputs failed are left out); problems are appended to ``problems``."""
    import torch._dynamo  # noqa: F401  (imported under a meta device it fails on a circular import)

    b = _Builder(recipe, regs, problems)
    context = BuildContext(load_weights=False, device="meta")
    parts: dict[str, Any] = {}
    if "vision_encoder" not in skip and (vision := b.build("vision_encoder", context)) is not None:
        if _encoder_ok(b, vision):
            parts["vision_encoder"], context = vision, context.after("vision_encoders", vision)
            if (pixels := _pixel_shape(vision)) is not None:
                b.forward("vision_encoder", vision, (1, *pixels), (1, vision.num_tokens, vision.hidden_size), "num_tokens and hidden_size")
    if "llm" not in skip and (llm := b.build("llm", context)) is not None:
        parts["llm"], context = llm, context.after("llms", llm)
    if "projector" in skip or not {"vision_encoder", "llm"} <= set(parts):
        return parts
    if (projector := b.build("projector", context)) is not None:
        parts["projector"] = projector
        b.forward("projector", projector, (1, context.vision_tokens, context.vision_hidden_size),
                  (1, projector.num_output_tokens, context.llm_hidden_size), "output_tokens()")
    return parts


def check_stages_against_model(recipe: "Recipe", parts: dict[str, Any], image_stages: set[str], problems: list[str]) -> None:
    """Each stage's ``llm_trainable_layers`` and ``max_seq_len`` against the built parts."""
    from vlmkit.train.freezing import layer_stack

    short: dict[str, list[str]] = {}  # max_seq_len key -> the image stages it cannot serve
    for name, stage in recipe.stages.items():
        count = stage.llm_trainable_layers
        if count is not None and "llm" in stage.trainable and "llm" in parts:
            try:
                layers = len(layer_stack(parts["llm"]))
            except ValueError as exc:
                problems.append(f"stages.{name}.llm_trainable_layers: {exc}")
            else:
                if not 0 < count <= layers:
                    problems.append(
                        f"stages.{name}.llm_trainable_layers: {count}, but llm {recipe.model.llm.name!r} has {layers} layers; use 1..{layers}"
                    )
        if name in image_stages and "projector" in parts:
            if recipe.stage_max_seq_len(name) < parts["projector"].num_output_tokens + MIN_TEXT_TOKENS:
                key = f"stages.{name}.max_seq_len" if stage.max_seq_len is not None else "data.max_seq_len"
                short.setdefault(key, []).append(name)
    for key, stages in short.items():
        seq, image = recipe.stage_max_seq_len(stages[0]), parts["projector"].num_output_tokens
        problems.append(
            f"{key}: {seq} tokens cannot hold one image ({image} image tokens) and its text, so every record of "
            f"{'stage' if len(stages) == 1 else 'stages'} {', '.join(map(repr, stages))} would be skipped; use at least {image + MIN_TEXT_TOKENS}"
        )
