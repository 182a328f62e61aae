"""``vlmkit export CHECKPOINT OUT [--format vlmkit|llava-hf]``: write a trained model for others to load.

``vlmkit`` format: reload with ``vlmkit.from_pretrained(OUT)``, or give OUT to ``vlmkit generate``
and ``vlmkit eval``. ``llava-hf``: a plain transformers ``LlavaForConditionalGeneration`` checkpoint
with its processor, where the components allow it (the reason is named where they do not).
"""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained model (vlmkit format or Hugging Face Llava)",
        description=(
            "CHECKPOINT is a recipe YAML (its last finished stage under trainer.run_dir, or --stage), or a stage "
            "folder / model.safetensors / Composer ba{N}.pt together with --recipe."
        ),
    )
    p.add_argument("checkpoint", help="recipe YAML, stage folder, model.safetensors or Composer ba{N}.pt")
    p.add_argument("out", help="folder to write (must not exist unless --overwrite)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted recipe overrides (as given to vlmkit train)")
    p.add_argument("--format", default="vlmkit", help="a registered export format: vlmkit (default), llava-hf or a plugin's")
    p.add_argument("--recipe", default=None, help="the recipe that trained CHECKPOINT (when CHECKPOINT is not a recipe)")
    p.add_argument("--stage", default=None, help="export this stage's weights instead of the last finished stage's")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from vlmkit.export.api import export

    out = export(args.checkpoint, args.out, format=args.format, recipe=args.recipe, stage=args.stage,
                 overrides=args.overrides, overwrite=args.overwrite)
    print(f"exported {args.format} model to {out}")
    return 0
