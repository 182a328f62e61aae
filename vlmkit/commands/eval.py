"""``vlmkit eval MODEL --task NAME [--shots K] [--limit N] [--json]``: benchmark a model.

MODEL is a recipe YAML (weights of its last finished stage) or an exported model folder. Each task
writes ``<output>/<task>[_<k>shot].json`` (scores, skipped records, every prediction); a table of
the scores is printed (or the JSON summaries with ``--json``).
"""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a model on registered tasks (official scoring rules)",
        description=(
            "Evaluate MODEL (a recipe YAML or an exported folder) on one or more registered tasks (see `vlmkit "
            "plugins list`). Task files are local copies given as task options, e.g. -o questions=val.json "
            "-o images=val2014/. Without --task, the recipe's eval.tasks run."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="recipe YAML or exported model folder")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted recipe overrides")
    p.add_argument("--task", "-t", action="append", default=[], help="registered task name (repeatable)")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE", help="task option (repeatable; support.KEY for the few-shot split)")
    p.add_argument("--shots", type=int, default=None, help="in-context examples per query (default 0)")
    p.add_argument("--shot-method", choices=("random", "rices"), default="random", help="how shots are chosen")
    p.add_argument("--seed", type=int, default=0, help="seed for shot selection and sampling")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N examples")
    p.add_argument("--batch-size", type=int, default=None, help="prompts per generation batch (default: recipe eval.batch_size or 8)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="override the task's reply length")
    p.add_argument("--stage", default=None, help="use this stage's weights instead of the last finished one")
    p.add_argument("--device", default="auto", help="auto, cpu, gpu (= cuda), cuda, cuda:1, ...")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--output", default=None, help="folder for the result files (default: <run_dir>/eval)")
    p.add_argument("--json", action="store_true", help="print JSON summaries instead of a table")
    p.set_defaults(func=run)


def _cli_specs(args) -> list[dict]:
    from vlmkit.eval.options import parse_options

    if args.option and not args.task:
        raise ValueError("task options (-o) need --task NAME")
    options = parse_options(args.option)
    return [{"name": t, "options": options, "shots": args.shots or 0, "limit": args.limit} for t in args.task]


def _recipe_specs(args, loaded) -> list[dict]:
    if not loaded.tasks:
        raise ValueError("no task to run: give --task NAME (see `vlmkit plugins list`) or list tasks under eval.tasks in the recipe")
    return [{**t, "shots": t["shots"] if args.shots is None else args.shots, "limit": args.limit or t.get("limit")} for t in loaded.tasks]


def _progress(name: str):
    def show(done: int, total: int) -> None:
        print(f"\r  {name}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    return show


def run(args) -> int:
    from vlmkit.eval.harness import evaluate
    from vlmkit.eval.loading import load_model
    from vlmkit.eval.results import format_table
    from vlmkit.eval.tasks import build_task

    if args.shots is not None and args.shots < 0:
        raise ValueError(f"--shots must be >= 0, got {args.shots}")
    for flag, value in (("--limit", args.limit), ("--batch-size", args.batch_size), ("--max-new-tokens", args.max_new_tokens)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be at least 1, got {value}")
    specs = _cli_specs(args)
    tasks = [build_task(s["name"], s.get("options")) for s in specs]  # names and options checked before loading
    loaded = load_model(args.model, args.overrides, stage=args.stage, device=args.device, dtype=args.dtype)
    if not specs:
        specs = _recipe_specs(args, loaded)
        tasks = [build_task(s["name"], s.get("options")) for s in specs]
    batch_size = args.batch_size or loaded.settings.get("batch_size", 8)
    max_new_tokens = args.max_new_tokens or loaded.settings.get("max_new_tokens")  # unset: each task's own
    output = args.output or loaded.output_dir
    results = []
    for spec, task in zip(specs, tasks):
        result = evaluate(
            loaded.model, task, shots=spec["shots"], shot_method=args.shot_method, seed=args.seed, limit=spec["limit"],
            batch_size=batch_size, chat_template=loaded.chat_template, max_new_tokens=max_new_tokens, progress=_progress(spec["name"]),
        )
        path = result.write(output)
        print(f"  {result.name}: predictions and scores written to {path}", file=sys.stderr)
        results.append(result)
    if args.json:
        print(json.dumps([r.summary() for r in results], indent=2))
    else:
        print(format_table(results))
    return 0
