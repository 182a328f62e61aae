"""``vlmkit demo [--tiny] [--recipe PATH] [key=value ...]``: the embedded default end to end.

Builds the embedded data if missing, scores the untrained model, trains the three VILA stages,
scores it again and prints the before/after table; training curves go to ``<run_dir>/demo/curves.png``.
"""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train the embedded default VILA on this machine and show its scores before and after",
        description=(
            "Run recipes/embedded.yaml (EfficientNet-Lite0 + MLP + SmolLM2-135M on the embedded data; about 20 minutes "
            "on 2 CPU cores) or, with --tiny, recipes/embedded_tiny.yaml (random-init tiny parts; seconds). Rerunning "
            "continues: finished stages and evaluations are reused."
        ),
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted recipe overrides, e.g. stages.sft.duration=300ba")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--tiny", action="store_true", help="the random-init tiny variant (seconds)")
    group.add_argument("--recipe", default=None, help="another recipe to run the demo with")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: OMP_NUM_THREADS, else all cores)")
    p.set_defaults(func=run)


def run(args) -> int:
    from vlmkit.experiments.demo import default_recipe, run_demo
    from vlmkit.experiments.runs import stderr_log

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    out = run_demo(args.recipe or default_recipe(args.tiny), args.overrides, log=stderr_log)
    print(out.joinpath("scores.md").read_text())
    return 0
