"""``vlmkit check RECIPE.yaml [key=value ...]``: validate a recipe and preflight it (the model is
built on the meta device only: no weights, no data read). Plugins that failed to load are warned
about first, one line each."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="validate a recipe against the schema, the installed plugins and the data")
    p.add_argument("recipe", help="path to a recipe YAML")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. stages.sft.optimizer.lr=1e-5")
    p.add_argument("--no-data", action="store_true", help="skip checks of dataset locations")
    p.set_defaults(func=run)


def run(args) -> int:
    from vlmkit.config import load_recipe
    from vlmkit.console import warn_plugin_failures
    from vlmkit.preflight import preflight

    warn_plugin_failures("check")
    recipe = load_recipe(args.recipe, args.overrides)
    preflight(recipe, check_data=not args.no_data, source=args.recipe)
    stages = ", ".join(recipe.stages)
    print(f"{args.recipe}: ok ({recipe.name}: stages {stages})")
    return 0
