"""``vlmkit ablate FOLDER --scale NAME [--out DIR] [--only A,B] [--dry-run]``: the paper's ablations.

Runs every arm of the comparisons in ``FOLDER/ablations.yaml`` at a scale (``recipes/scales/NAME.yaml``:
``tiny`` for seconds-long smoke runs, ``embedded`` for the real small components on a CPU, ``none``
for the arms as written), evaluates them on the same tasks and writes ``OUT/ablations.md`` (a table
per comparison next to the direction the paper reports) and ``OUT/ablations.png``.
"""

from __future__ import annotations

import shlex


def add_parser(sub) -> None:
    p = sub.add_parser("ablate", help="run the paper's ablations at a scale and report them next to the paper's findings")
    p.add_argument("folder", help="folder with ablations.yaml and the arm recipes (recipes/ablations/)")
    p.add_argument("--scale", required=True, help="tiny, embedded, none, or a scale YAML file")
    p.add_argument("--out", default=None, help="output folder (default: runs/ablations-<scale>)")
    p.add_argument("--only", default=None, help="comma-separated comparison names to run (default: all)")
    p.add_argument("--dry-run", action="store_true", help="write and validate the arm recipes, print the runs, train nothing")
    p.set_defaults(func=run)


def run(args) -> int:
    from vlmkit.config.bundled import find_recipe
    from vlmkit.experiments.ablation import ablate
    from vlmkit.experiments.runs import stderr_log

    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    out = args.out or f"runs/ablations-{args.scale}"
    words = ["vlmkit", "ablate", args.folder, "--scale", args.scale, "--out", out] + (["--only", args.only] if args.only else [])
    command = " ".join(shlex.quote(w) for w in words)
    report = ablate(find_recipe(args.folder), args.scale, out, only, command=command, dry_run=args.dry_run, log=stderr_log)
    if not args.dry_run:
        print(report.read_text())
    return 0
