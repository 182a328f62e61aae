"""``vlmkit plugins list [--json]``: every registered component, its kind and its distribution."""

from __future__ import annotations

import json
import sys

from vlmkit.console import warn_plugin_failures


def add_parser(sub) -> None:
    p = sub.add_parser("plugins", help="list registered components and the plugins that provide them")
    psub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lst = psub.add_parser("list", help="show every registered component by kind")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=run_list)


def collect() -> dict:
    from vlmkit.registry import loaded_plugins, registries

    regs = registries()
    return {
        "components": {
            kind: [{"name": e.name, "distribution": e.source, "description": e.description} for e in reg.entries()]
            for kind, reg in regs.all().items()
        },
        "plugins": loaded_plugins(),
        "errors": [str(e) for e in regs.errors],
    }


def run_list(args) -> int:
    warn_plugin_failures("plugins")
    info = collect()
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        print()
        return 0
    for kind, entries in info["components"].items():
        print(f"{kind} ({len(entries)})")
        width = max((len(e["name"]) for e in entries), default=0)
        dist_width = max((len(e["distribution"]) for e in entries), default=0)
        for e in entries:
            print(f"  {e['name']:<{width}}  {e['distribution']:<{dist_width}}  {e['description']}".rstrip())
    return 0
