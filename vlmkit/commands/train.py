"""``vlmkit train RECIPE.yaml [--stage NAME] [key=value ...]``: train a recipe's stages in order
(:mod:`vlmkit.train.entry` parses the arguments and runs them).

Multi-process: ``composer -n N -m vlmkit.train RECIPE.yaml [...]`` runs the same code in N
processes (gloo on the CPU, NCCL on GPUs).
"""

from __future__ import annotations

from vlmkit.train.entry import add_arguments, run


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
