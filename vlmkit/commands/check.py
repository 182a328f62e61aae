"""``vlmkit check RECIPE.yaml [key=value ...]``: validate a recipe and preflight it, building nothing."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="validate a recipe against the schema, the installed plugins and the data")
    p.add_argument("recipe", help="path to a recipe YAML")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. stages.sft.optimizer.lr=1e-5")
    p.add_argument("--no-data", action="store_true", help="skip checks of dataset locations")
    p.set_defaults(func=run)


def run(args) -> int:
    from vlmkit.config import load_recipe
    from vlmkit.preflight import preflight

    recipe = load_recipe(args.recipe, args.overrides)
    preflight(recipe, check_data=not args.no_data, source=args.recipe)
    stages = ", ".join(recipe.stages)
    print(f"{args.recipe}: ok ({recipe.name}: stages {stages})")
    return 0
