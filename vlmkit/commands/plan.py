"""``vlmkit plan RECIPE.yaml [--json] [--world-size N] [--device gpu|cpu] [--throughput FLOPS]``:
parameters, tokens, FLOPs, memory per device and time of each stage, before training (offline,
on the meta device)."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "plan",
        help="parameters, tokens, FLOPs, memory per device and time of each stage, before training",
        description="Estimate each stage of RECIPE without loading weights or data (the model is built on the meta device).",
    )
    p.add_argument("recipe", help="path to a recipe YAML")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. trainer.parallelism=fsdp2")
    p.add_argument("--world-size", type=int, default=1, help="number of processes (GPUs) to plan for")
    p.add_argument("--device", choices=("gpu", "cpu"), default="gpu", help="device kind the run will use")
    p.add_argument("--throughput", type=float, default=None, help="achieved FLOP/s per device, e.g. 4e14, for the time estimate")
    p.add_argument("--stage", default=None, help="plan only this stage")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _gib(n: float) -> str:
    return f"{n / 1024**3:.2f} GiB"


def _count(n: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}"


def render(plans) -> str:
    lines = []
    for p in plans:
        parts = ", ".join(f"{k} {_count(v)}" for k, v in p.trainable_by_part.items() if v)
        mem = ", ".join(f"{k} {_gib(v)}" for k, v in p.memory.items() if k != "total")
        lines += [
            f"stage {p.stage}: {p.world_size} process(es), {p.device_batch} samples per process, microbatch {p.microbatch}",
            f"  parameters: {_count(p.total_params)} total, {_count(p.trainable_params)} trainable ({parts})",
            f"  tokens per sample: {p.image_tokens_per_sample:.0f} image ({p.images_per_sample:g} images) + {p.text_tokens_per_sample:.0f} text",
            f"  FLOPs per sample: {p.flops_per_sample:.3e}" + (f"; stage total {p.total_flops:.3e} over {p.samples} samples" if p.total_flops else ""),
            f"  memory per device: {_gib(p.memory['total'])} ({mem})",
            f"  per trained parameter: {p.bytes_per_trained_param} bytes (fp32 weights, gradients, optimizer state)"
            + (f", sharded over {p.world_size}" if p.sharded else "") + f"; compute in {p.compute_dtype}",
        ]
        if p.seconds is not None:
            lines.append(f"  estimated time: {p.seconds / 3600:.2f} h")
    return "\n".join(lines)


def run(args) -> int:
    from vlmkit.config import load_recipe
    from vlmkit.preflight import preflight
    from vlmkit.train.plan import plan_recipe

    if args.world_size < 1:
        raise ValueError(f"--world-size must be at least 1, got {args.world_size}")
    # the model checks (declared vs real token counts, ...) before counting from the declared shapes
    recipe = preflight(load_recipe(args.recipe, args.overrides), check_data=False, check_machine=False, source=args.recipe)
    if args.stage is not None and args.stage not in recipe.stages:
        raise ValueError(f"--stage {args.stage!r} is not a stage of recipe {recipe.name!r}; stages: {', '.join(recipe.stages)}")
    plans = plan_recipe(recipe, args.world_size, args.device, args.throughput, args.stage)
    if args.json:
        json.dump([p.as_dict() for p in plans], sys.stdout, indent=2)
        print()
    else:
        print(render(plans))
    return 0
