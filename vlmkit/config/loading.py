"""Reading recipes: safe YAML, ``base:`` inheritance, ``${VAR}`` expansion, dotted overrides,
validation with one clear line per problem."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ValidationError

from vlmkit.config.models import Recipe
from vlmkit.registry import closest

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class RecipeError(ValueError):
    """A recipe that cannot be used. ``str(err)`` is one line per problem, each naming its key path."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__("\n".join(where + p for p in problems))


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` on top of ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RecipeError([f"recipe file {str(path)!r} does not exist; check the path"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RecipeError([f"invalid YAML{line}: {getattr(exc, 'problem', exc)}"], str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError([f"a recipe must be a mapping of keys, got {type(data).__name__}"], str(path))
    return data


def resolve_bases(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The recipe at ``path`` with its ``base:`` chain merged underneath (paths relative to the file)."""
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise RecipeError([f"base: recipes inherit in a cycle ({chain})"])
    data = read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    bases = base if isinstance(base, list) else [base]
    merged: dict = {}
    for b in bases:
        if not isinstance(b, str):
            raise RecipeError([f"base: expected a path to another recipe, got {b!r}"], str(path))
        merged = deep_merge(merged, resolve_bases(path.parent / b, (*_seen, path)))
    return deep_merge(merged, data)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"stages.sft.optimizer.lr=1e-5"`` -> (["stages", "sft", "optimizer", "lr"], 1e-05)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise RecipeError([f"override {item!r}: expected KEY=VALUE with a dotted key, e.g. stages.sft.optimizer.lr=1e-5"])
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value):
        value = float(value)  # YAML 1.1 reads 1e-5 as a string
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    out = copy.deepcopy(data)
    for item in overrides:
        path, value = parse_override(item)
        node: Any = out
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                node = node[int(part)]
                continue
            if not isinstance(node.get(part, {}), (dict, list)):
                raise RecipeError([f"override {item!r}: {'.'.join(path[: i + 1])} is a value, not a section"])
            node = node.setdefault(part, {})
        if isinstance(node, list):
            node[int(path[-1])] = value
        else:
            node[path[-1]] = value
    return out


def expand_vars(value: Any, extra: dict[str, str]) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string (``extra`` first, then the environment)."""
    if isinstance(value, dict):
        return {k: expand_vars(v, extra) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_vars(v, extra) for v in value]
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            name, default = m.group(1), m.group(2)
            found = extra.get(name, os.environ.get(name))
            if found is None and default is None:
                raise RecipeError([f"${{{name}}} is not set; export {name} or write ${{{name}:-default}}"])
            return found if found is not None else default
        return _VAR.sub(sub, value)
    return value


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class found by walking ``loc`` from ``model`` (for typo hints).

    A ``dict[str, Model]`` field consumes one extra path part (the mapping key)."""
    current: Any = model
    parts = list(loc)
    while parts:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(parts.pop(0)))
        if field is None:
            return None
        ann = field.annotation
        if getattr(ann, "__origin__", None) is dict:
            if not parts:
                return None
            parts.pop(0)
            ann = ann.__args__[-1]
        candidates = [a for a in (ann, *getattr(ann, "__args__", ())) if isinstance(a, type) and issubclass(a, BaseModel)]
        current = candidates[0] if candidates else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def format_validation_error(err: ValidationError, model: type[BaseModel] = Recipe) -> list[str]:
    """One line per problem: ``key.path: what is wrong (got VALUE); expected ...``."""
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        key = ".".join(str(p) for p in loc) or "(recipe)"
        if e["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            hint = closest(str(loc[-1]), list(parent.model_fields)) if parent else None
            allowed = f"; allowed keys: {', '.join(parent.model_fields)}" if parent else ""
            did = f"; did you mean {hint!r}?" if hint else ""
            lines.append(f"{key}: unknown key{did}{allowed}")
        elif e["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            got = f" (got {e['input']!r})" if not isinstance(e.get("input"), (dict, list)) else ""
            lines.append(f"{key}: {msg}{got}")
    return lines


def validate_recipe(data: dict, source: str | None = None) -> Recipe:
    try:
        return Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(format_validation_error(err), source) from None


def load_recipe(path: str | os.PathLike, overrides: Iterable[str] = ()) -> Recipe:
    """Read, inherit, override, expand and validate the recipe at ``path``. Imports no torch."""
    path = Path(path)
    data = apply_overrides(resolve_bases(path), overrides)
    data.setdefault("name", path.stem)
    data = expand_vars(data, {"recipe": str(data["name"]), "recipe_dir": str(path.resolve().parent)})
    return validate_recipe(data, str(path))
