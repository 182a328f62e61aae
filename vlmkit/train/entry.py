"""The train run a command line asks for: ``vlmkit train`` and ``python -m vlmkit.train`` (what the
Composer launcher starts in each of N processes) take the same arguments and call :func:`run`.

Only the standard library loads at import: the recipe is validated and preflighted before Composer
and torch load, so a bad recipe fails in a second.
"""

from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    """The arguments of a train run, added to the ``argparse`` parser ``p``."""
    p.add_argument("recipe", help="path to a recipe YAML")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. stages.sft.optimizer.lr=1e-5")
    p.add_argument("--stage", default=None, help="run only this stage (it starts from the previous stage's final weights)")
    p.add_argument("--no-preflight", action="store_true", help="skip the checks of components and data locations")
    p.add_argument("--json", action="store_true", help="print the stage summaries as JSON")


def run(args, dataloader_factory=None) -> int:
    """Train the stages ``args`` name; rank 0 prints one summary line per stage (or JSON)."""
    from vlmkit.config import load_recipe
    from vlmkit.console import warn_plugin_failures

    warn_plugin_failures("train")
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
