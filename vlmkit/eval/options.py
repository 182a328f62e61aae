"""``KEY=VALUE`` command-line options -> a (nested) options dict for a task."""

from __future__ import annotations

from typing import Any, Iterable


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """``["questions=q.json", "support.images=train/", "circular=false"]`` ->
    ``{"questions": "q.json", "support": {"images": "train/"}, "circular": False}``.

    Values are read as YAML (numbers, booleans, lists, ``{}``); dots nest keys. ``support={}``
    draws in-context shots from the evaluation split itself (the query excluded)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"task option {item!r} is not KEY=VALUE (e.g. -o questions=val.json)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if value is None:
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"task option {key!r}: {part!r} is already set to a value")
            node = child
        node[parts[-1]] = value
    return out
