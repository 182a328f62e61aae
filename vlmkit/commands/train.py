"""``vlmkit train RECIPE.yaml [--stage NAME] [key=value ...]``: train a recipe's stages in order.

Multi-process: ``composer -n N -m vlmkit.train RECIPE.yaml [...]`` runs the same code in N
processes (gloo on the CPU, NCCL on GPUs).
"""

from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    p.add_argument("recipe", help="path to a recipe YAML")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. stages.sft.optimizer.lr=1e-5")
    p.add_argument("--stage", default=None, help="run only this stage (it starts from the previous stage's final weights)")
    p.add_argument("--no-preflight", action="store_true", help="skip the checks of components and data locations")
    p.add_argument("--json", action="store_true", help="print the stage summaries as JSON")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a recipe's stages (align, pretrain, sft, ...) with Composer",
        description=(
            "Run every stage of RECIPE in order, or only --stage. Each stage starts from the previous stage's final "
            "weights; checkpoints go to trainer.run_dir/<stage>/. Rerunning the same command resumes an interrupted "
            "stage from its last checkpoint and skips finished stages. Use `composer -n N -m vlmkit.train` for N processes."
        ),
    )
    add_arguments(p)
    p.set_defaults(func=run)


def run(args, dataloader_factory=None) -> int:
    from vlmkit.commands.plugins import warn_failures
    from vlmkit.config import load_recipe

    warn_failures("train")
    recipe = load_recipe(args.recipe, args.overrides)  # before Composer and torch load: a bad recipe fails in a second
    if not args.no_preflight:
        from vlmkit.preflight import preflight

        preflight(recipe, source=args.recipe)

    from composer.utils import dist

    from vlmkit.train.stages import run_recipe
    from vlmkit.train.trainer import default_dataloader_factory

    summaries = run_recipe(recipe, stage=args.stage, dataloader_factory=dataloader_factory or default_dataloader_factory)
    if dist.get_global_rank() != 0:
        return 0
    if args.json:
        json.dump(summaries, sys.stdout, indent=2)
        print()
        return 0
    for name, s in summaries.items():
        state = "skipped (finished before)" if s.get("skipped") else f"{s['seconds']:.1f}s"
        loss = "-" if s.get("final_loss") is None else f"{s['first_loss']:.4f} -> {s['final_loss']:.4f}"
        print(f"{name}: {s['batches']} steps, loss {loss}, {state}")
    print(f"run folder: {recipe.trainer.run_dir}")
    return 0
