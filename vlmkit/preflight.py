"""Checks a validated recipe against the registries and the filesystem before anything is built.

Pydantic validation (``vlmkit.config``) catches wrong keys, types and values; preflight catches what
needs the installed plugins or the data: unknown component names, options a factory does not take,
datasets that do not exist, stages whose data cannot train what they unfreeze, a precision the
device refuses; then the parts are built on the meta device (:mod:`vlmkit.preflight_model`) to
catch what only the built model knows: options a factory rejects, declared shapes that forward
does not give, trainable layers the LLM lacks, sequences too short for an image. Every problem is
one line naming the key path and the fix.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Callable

from vlmkit.config import Recipe, RecipeError, parse_mixture
from vlmkit.model.build import PART_KINDS, RESERVED_OPTIONS
from vlmkit.registry import Registries, RegistryError, closest, registries

# Schemes MosaicML Streaming can read shards from.
REMOTE_SCHEMES = ("s3", "gs", "oci", "azure", "azure-dl", "hf", "dbfs", "sftp", "http", "https")
IMAGE_PARTS = ("vision_encoder", "projector")


def factory_options(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword options a factory accepts, or None when it takes ``**kwargs`` (anything goes)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - RESERVED_OPTIONS


def _check_component(regs: Registries, kind: str, key: str, name: str, options: dict, problems: list[str]) -> bool:
    """Whether the component resolves and its factory takes every option (as far as its signature says)."""
    registry = regs.kind(kind)
    try:
        factory = registry.get(name)
    except RegistryError as exc:
        problems.append(f"{key}.name: {exc}")
        return False
    accepted = factory_options(factory)
    unknown = [opt for opt in options if accepted is not None and opt not in accepted]
    for opt in unknown:
        hint = closest(opt, sorted(accepted))
        did = f"; did you mean {hint!r}?" if hint else ""
        problems.append(f"{key}.{opt}: {kind[:-1].replace('_', ' ')} {name!r} has no option {opt!r}{did} Options: {', '.join(sorted(accepted)) or '(none)'}")
    return not unknown


def _check_location(key: str, value: str, problems: list[str]) -> None:
    scheme, sep, _ = value.partition("://")
    if not sep:
        if not Path(value).expanduser().exists():
            problems.append(f"{key}: {value!r} does not exist; convert data there with `vlmkit convert` or fix the path")
        return
    if scheme == "file":
        _check_location(key, value[len("file://"):], problems)
    elif scheme not in REMOTE_SCHEMES:
        problems.append(f"{key}: Streaming cannot read {scheme}:// URIs; use a local folder or one of {', '.join(s + '://' for s in REMOTE_SCHEMES)}")
    elif scheme == "s3":
        _check_s3(key, value, problems)


def _check_s3(key: str, uri: str, problems: list[str]) -> None:
    """Ask the object store for the shard index with short timeouts (endpoint from S3_ENDPOINT_URL)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = uri[len("s3://"):].partition("/")
    index = f"{prefix.rstrip('/')}/index.json" if prefix else "index.json"
    client = boto3.client(
        "s3",
        endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
        config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1}),
    )
    try:
        client.head_object(Bucket=bucket, Key=index)
    except (BotoCoreError, ClientError) as exc:
        problems.append(f"{key}: cannot read s3://{bucket}/{index} ({type(exc).__name__}); check the URI, credentials and S3_ENDPOINT_URL")


def _check_datasets(recipe: Recipe, regs: Registries, problems: list[str]) -> dict[str, str | None]:
    """Resolve every dataset; returns name -> kind (None when unresolvable)."""
    kinds: dict[str, str | None] = {}
    for name, ds in recipe.datasets.items():
        key = f"datasets.{name}"
        kinds[name] = ds.kind
        if ds.name is not None:
            if ds.name not in regs.datasets:
                problems.append(f"{key}.name: {regs.datasets.unknown_message(ds.name)}")
                continue
            from vlmkit.data.datasets import resolve_dataset

            try:
                resolved = resolve_dataset(ds, prepare=False)
            except (ValueError, LookupError, TypeError) as exc:
                problems.append(f"{key}: {exc}")
                continue
            if ds.kind is not None and resolved.kind != ds.kind:
                problems.append(f"{key}.kind: {ds.name!r} holds {resolved.kind} samples, not {ds.kind}; drop 'kind' or pick a {ds.kind} dataset")
            kinds[name] = resolved.kind
            continue
        if ds.remote is not None:
            _check_location(f"{key}.remote", ds.remote, problems)
        elif ds.local is not None:
            _check_location(f"{key}.local", ds.local, problems)
    return kinds


def _declared_kinds(recipe: Recipe, regs: Registries) -> dict[str, str | None]:
    """Dataset name -> kind without touching the data (a named dataset's registered kind)."""
    from vlmkit.data.datasets import resolve_dataset

    kinds: dict[str, str | None] = {}
    for name, ds in recipe.datasets.items():
        kinds[name] = ds.kind
        if ds.kind is None and ds.name in regs.datasets:
            try:
                kinds[name] = resolve_dataset(ds, prepare=False).kind
            except (ValueError, LookupError, TypeError):
                pass  # reported by the data checks when they run
    return kinds


def carries_images(regs: Registries, kind: str | None) -> bool | None:
    """Whether samples of ``kind`` hold images (its registered sample kind says); None when unknown."""
    if kind is None or kind not in regs.sample_kinds:
        return None
    from vlmkit.data.kinds import sample_kind

    return sample_kind(kind, regs).carries_images


def image_stages(recipe: Recipe, kinds: dict[str, str | None], regs: Registries) -> set[str]:
    """Stages whose mixture holds a dataset of image samples."""
    return {name for name, stage in recipe.stages.items() if any(carries_images(regs, kinds.get(ds)) for ds in parse_mixture(stage.mixture))}


def _check_stages(recipe: Recipe, regs: Registries, kinds: dict[str, str | None], problems: list[str]) -> None:
    for stage_name, stage in recipe.stages.items():
        key = f"stages.{stage_name}"
        if stage.mixer not in regs.mixers:
            problems.append(f"{key}.mixer: {regs.mixers.unknown_message(stage.mixer)}")
        mixture = parse_mixture(stage.mixture)
        with_images = {carries_images(regs, kinds.get(ds)) for ds in mixture}
        trains_image_path = [p for p in stage.trainable if p in IMAGE_PARTS]
        if trains_image_path and with_images == {False}:
            problems.append(
                f"{key}.mixture: every dataset is text-only, so the trainable {', '.join(trains_image_path)} would get no "
                f"gradient; add an image dataset or train only 'llm'"
            )
        if stage.lora:
            try:
                import peft  # noqa: F401
            except ImportError:
                problems.append(f"{key}.lora: LoRA needs the 'peft' package; pip install 'vlmkit[lora]' or remove 'lora'")
        seq = recipe.stage_max_seq_len(stage_name)
        if stage.microbatch_size not in (None, "auto") and stage.microbatch_size > stage.global_batch_size:
            problems.append(f"{key}.microbatch_size: {stage.microbatch_size} exceeds global_batch_size {stage.global_batch_size}; lower it")
        if seq < 8 and True not in with_images:  # image stages: checked against the built model
            problems.append(f"{key}.max_seq_len: {seq} tokens cannot hold a text sample; use at least 8")


def _check_trainer(recipe: Recipe, problems: list[str]) -> None:
    device = recipe.trainer.device
    if device == "auto":
        import torch

        device = "gpu" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and recipe.trainer.precision in ("amp_bf16", "amp_fp16"):
        problems.append(
            f"trainer.precision: {recipe.trainer.precision} needs a GPU (Composer refuses it on CPU); use 'bf16' "
            "(CPU autocast) or 'fp32'"
        )
        return
    from vlmkit.train.precision import check_trainable_dtypes, resolve_precision
    from vlmkit.train.qlora import check_qlora

    plan = resolve_precision(recipe.trainer.precision, device, check_device=False)
    for stage in recipe.stages:
        try:
            check_trainable_dtypes(recipe, stage, plan)  # a trained part in 16 bits under fp32 compute
            check_qlora(recipe, stage, device)  # quantize_base: bitsandbytes and a device it quantizes on
        except ValueError as exc:
            problems.append(str(exc))


def preflight(recipe: Recipe, *, check_data: bool = True, check_machine: bool = True, source: str | None = None) -> Recipe:
    """Raise :class:`RecipeError` listing every problem found; return the recipe when there is none.
    ``check_data=False`` skips reading the data locations; ``check_machine=False`` skips what
    depends on this machine (the precision its device allows), as ``vlmkit plan`` for GPUs does."""
    from vlmkit.preflight_model import build_meta_parts, check_stages_against_model

    regs = registries()
    problems: list[str] = []
    unbuildable: set[str] = set()
    for part, kind in PART_KINDS.items():
        comp = getattr(recipe.model, part)
        if not _check_component(regs, kind, f"model.{part}", comp.name, comp.options(), problems):
            unbuildable.add(part)
    template = recipe.model.chat_template
    if template != "tokenizer" and template not in regs.chat_templates:
        problems.append(f"model.chat_template: {regs.chat_templates.unknown_message(template)} (or 'tokenizer')")
    kinds = _check_datasets(recipe, regs, problems) if check_data else _declared_kinds(recipe, regs)
    _check_stages(recipe, regs, kinds, problems)
    parts = build_meta_parts(recipe, regs, unbuildable, problems)
    check_stages_against_model(recipe, parts, image_stages(recipe, kinds, regs), problems)
    for i, task in enumerate(recipe.eval.tasks):
        if task.name not in regs.tasks:
            problems.append(f"eval.tasks.{i}.name: {regs.tasks.unknown_message(task.name)}")
    if check_machine:
        _check_trainer(recipe, problems)
    if problems:
        raise RecipeError(problems, source, recipe.key_origins)  # inherited keys name their file
    return recipe
