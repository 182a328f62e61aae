"""``vlmkit plan``: per stage, parameters, tokens, FLOPs, memory per device and time, before training.

The model is built on the meta device (no weights, no memory), so 7B/13B recipes plan offline.
Per *sample* means one sequence of ``max_seq_len`` tokens holding one record (an upper bound when
packing puts several records in a row): image tokens = expected images per record (from the
mixture's dataset kinds) x tokens per image; text tokens fill the rest.

Memory per device (bytes): weights = every trainable parameter in fp32 (the master weights, see
:mod:`vlmkit.train.precision`) and every frozen one at its dtype (``torch_dtype``); gradients =
trainable parameters in fp32; optimizer = trainable parameters x state tensors (2 for Adam) in
fp32: 16 bytes per trained parameter with Adam; all three divided by the process count under FSDP2.
Compute copies: the 16-bit (or fp32) copies the forward computes with: under FSDP2 the gathered
weights of the running unit and the prefetched one (2 x the largest unit); under DDP with 16-bit
compute, autocast's cached cast of every trained weight (kept until the forward ends).
Activations of one microbatch: for each block that backward runs through, ``34 x width`` bytes
per token at 16-bit (Korthikanti et al. 2022, without attention scores, which SDPA does not keep;
doubled in fp32), or only the block inputs with activation checkpointing, plus fp32 logits and
their gradient. A frozen encoder under ``no_grad`` keeps none.
Packed rows add the LLM's attention mask (``LLMBackbone.packed_mask_bytes``): a dense ``L x L`` one
per row, or almost nothing where the attention kernel reads the samples from position ids.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from vlmkit.config import parse_mixture
from vlmkit.train.batching import plan_batch
from vlmkit.train.flops import flop_model
from vlmkit.train.freezing import count_parameters, set_trainable
from vlmkit.train.optim import state_tensors
from vlmkit.train.parallel import largest_unit
from vlmkit.train.qlora import bytes_saved
from vlmkit.train.precision import check_trainable_dtypes, dtype_name, master_dtype, resolve_precision, unique_parameters

if TYPE_CHECKING:
    from vlmkit.config import Recipe

GiB = 1024**3
TIME = re.compile(r"^(\d+(?:\.\d+)?)(ep|ba|sp|tok|dur)$")


@dataclass
class StagePlan:
    stage: str
    total_params: int
    trainable_params: int
    trainable_by_part: dict[str, int]
    images_per_sample: float
    image_tokens_per_sample: float
    text_tokens_per_sample: float
    flops_per_sample: float
    world_size: int
    device_batch: int
    microbatch: int | str
    memory: dict[str, float] = field(default_factory=dict)  # bytes per device
    compute_dtype: str = "float32"
    bytes_per_trained_param: int = 16  # fp32 weights + gradients + optimizer states, before sharding
    sharded: bool = False  # FSDP2: weights, gradients and optimizer state divided over the processes
    samples: int | None = None
    total_flops: float | None = None
    seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def meta_model(recipe: "Recipe"):
    """The recipe's model built on the meta device without weights."""
    import torch._dynamo  # noqa: F401  (imported lazily under a meta device it fails on a circular import)

    from vlmkit.model.vlm import build_vlm

    with torch.device("meta"):
        return build_vlm(recipe.model, load_weights=False)


def images_per_record(recipe: "Recipe", stage: str) -> float:
    """Expected images per record of a stage's mixture, as each dataset's sample kind estimates
    it (:meth:`vlmkit.data.kinds.SampleKind.images_per_record`), at most ``max_images_per_sample``."""
    from vlmkit.data.datasets import resolve_dataset
    from vlmkit.data.kinds import sample_kind
    from vlmkit.data.tokenize.context import parse_options

    cap = recipe.data.max_images_per_sample
    total = 0.0
    for name, share in parse_mixture(recipe.stages[stage].mixture, recipe.datasets).items():
        cfg = resolve_dataset(recipe.datasets[name], prepare=False)
        kind = sample_kind(cfg.kind)
        try:
            options = parse_options(kind.Options, cfg.kind, cfg.options)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"datasets.{name}.options: {exc}") from None
        total += share * kind.images_per_record(options, cap)
    return total


def lora_params(part: torch.nn.Module, r: int, targets: list[str]) -> int:
    return sum(r * (m.in_features + m.out_features) for name, m in part.named_modules()
               if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in targets)


def param_bytes(module: torch.nn.Module) -> int:
    """Bytes of ``module``'s parameters as training holds them (trainable ones in fp32)."""
    return sum(p.numel() * master_dtype(p).itemsize for p in unique_parameters(module))


def activation_bytes(model, fm, seq: int, images: float, act_bytes: int, checkpointing: bool) -> float:
    """Activations kept for backward by one sample (see the module docstring)."""
    per_token_layer = (act_bytes / 2) * 34
    out = 0.0
    if fm.llm_grad_layers:
        width, layers = model.llm.hidden_size, fm.llm_grad_layers
        kept = act_bytes * width * layers + per_token_layer * width if checkpointing else per_token_layer * width * layers
        out += seq * kept + seq * model.llm.vocab_size * 4 * 2
    if fm.mult["vision_encoder"] > 1:
        v_layers = len(model.vision_encoder.layers()) or 1
        width, tokens = model.vision_encoder.hidden_size, images * model.vision_encoder.num_tokens
        kept = act_bytes * width * v_layers + per_token_layer * width if checkpointing else per_token_layer * width * v_layers
        out += tokens * kept
    return out


def compute_copy_bytes(model, precision, parallelism: str, trained: int) -> float:
    """Bytes of the weight copies the forward computes with (see the module docstring)."""
    if parallelism == "fsdp2":
        return 2 * largest_unit(model) * precision.gather_dtype.itemsize
    return trained * precision.compute_dtype.itemsize if precision.compute_dtype.itemsize < 4 else 0


def plan_stage(recipe: "Recipe", stage: str, model, world_size: int, device: str, throughput: float | None) -> StagePlan:
    cfg, tcfg = recipe.stages[stage], recipe.trainer
    set_trainable(model, cfg.trainable, cfg.llm_trainable_layers)
    for name in cfg.lora:
        getattr(model, name).requires_grad_(False)  # as add_lora does: only the adapters train
    by_part = {}
    for name, part in model.parts().items():
        lora = cfg.lora.get(name)
        by_part[name] = lora_params(part, lora.r, lora.targets) if lora else count_parameters(part, trainable_only=True)
    fm = flop_model(model)
    seq = recipe.stage_max_seq_len(stage)
    images = images_per_record(recipe, stage)
    image_tokens = images * model.num_image_tokens
    batch = plan_batch(cfg.global_batch_size, world_size, cfg.microbatch_size, on_gpu=device == "gpu")
    precision = resolve_precision(tcfg.precision, device, check_device=False)
    check_trainable_dtypes(recipe, stage, precision)
    shard = world_size if tcfg.parallelism == "fsdp2" else 1
    adapters = sum(by_part[name] for name in cfg.lora)
    grads = 4 * sum(by_part.values())  # fp32 gradients of the fp32 master weights (adapters included)
    micro = batch.microbatch if isinstance(batch.microbatch, int) else 1
    states = state_tensors(cfg.optimizer)  # fp32 state tensors per trained parameter, counted on the real optimizer
    memory = {
        "weights": (param_bytes(model) + 4 * adapters - sum(bytes_saved(getattr(model, name))  # 4-bit frozen base
                                                            for name, lora in cfg.lora.items() if lora.quantize_base)) / shard,
        "gradients": grads / shard,
        "optimizer": grads * states / shard,
        "compute_copies": compute_copy_bytes(model, precision, tcfg.parallelism, sum(by_part.values())),
        "activations": micro * activation_bytes(model, fm, seq, images, precision.activation_bytes, tcfg.activation_checkpointing),
        "attention_mask": model.llm.packed_mask_bytes(micro, seq) if recipe.data.packing else 0,
    }
    memory["total"] = sum(memory.values())
    per_sample = fm.train_flops(1, seq, images)
    samples = stage_samples(cfg.duration, cfg.global_batch_size, seq)
    total = per_sample * samples if samples is not None else None
    seconds = total / (throughput * world_size) if total is not None and throughput else None
    return StagePlan(
        stage, count_parameters(model), sum(by_part.values()), by_part, images, image_tokens, seq - image_tokens,
        per_sample, world_size, batch.device_batch, batch.microbatch, memory,
        dtype_name(precision.compute_dtype), 4 * (2 + states), shard > 1, samples, total, seconds,
    )


def stage_samples(duration: str, global_batch: int, seq: int) -> int | None:
    """Samples a stage trains on: ``Nba`` x batch, ``Nsp``, ``Ntok`` / seq; ``None`` for epochs (data size unknown)."""
    m = TIME.match(duration)
    per_unit = {"ba": global_batch, "sp": 1, "tok": 1 / seq}
    return int(float(m.group(1)) * per_unit[m.group(2)]) if m and m.group(2) in per_unit else None


def plan_recipe(recipe: "Recipe", world_size: int = 1, device: str = "gpu", throughput: float | None = None,
                stage: str | None = None) -> list[StagePlan]:
    """A :class:`StagePlan` per stage (or for ``stage``), for ``world_size`` processes on ``device``."""
    model = meta_model(recipe)
    names = [stage] if stage else list(recipe.stages)
    return [plan_stage(recipe, name, model, world_size, device, throughput) for name in names]
