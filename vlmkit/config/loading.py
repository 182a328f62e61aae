"""Reading recipes: safe YAML, ``base:`` inheritance, ``${VAR}`` expansion, dotted overrides,
validation with one clear line per problem.

Inheritance merges mappings key by key, except that a model component whose ``name`` changes starts
its options afresh, ``!replace`` puts a mapping in place of the inherited one and ``key: !unset``
removes an inherited key. Each key remembers the file it came from, so a problem with an inherited
key names that file."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from vlmkit.config.models import ComponentConfig, ModelConfig, Recipe
from vlmkit.config.safe_yaml import UNSET, Replace, load_yaml
from vlmkit.registry import closest

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_KEY = re.compile(r"^([^\s:]+): ")  # the key path a problem line starts with
# Key paths of the registered components: a new ``name`` there starts the options afresh.
COMPONENTS = frozenset(("model", f) for f, info in ModelConfig.model_fields.items() if info.annotation is ComponentConfig)


def _origin_of(key: str, origins: Mapping[str, str]) -> str | None:
    """The file ``key`` (or the list it is an item of) was set in, from ``origins``."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        if (found := origins.get(".".join(parts[:n]))) is not None:
            return found
    return None


class RecipeError(ValueError):
    """A recipe that cannot be used. ``str(err)`` is one line per problem, each naming its key path.

    ``origins`` maps key paths inherited through ``base:`` to their file; a problem with such a key
    says so: ``model.projector.depth (from tiny.yaml): ...``."""

    def __init__(self, problems: list[str], source: str | None = None, origins: Mapping[str, str] | None = None) -> None:
        if origins:
            problems = [_KEY.sub(lambda m: f"{m[1]} (from {o}): " if (o := _origin_of(m[1], origins)) else m[0], p, count=1)
                        for p in problems]
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__("\n".join(where + p for p in problems))


def starts_afresh(at: tuple[str, ...], old: Any, new: Mapping) -> bool:
    """Whether ``new`` replaces ``old`` at key path ``at`` rather than merging into it: it is tagged
    ``!replace``, or it renames a model component (the old options belong to the old component)."""
    if isinstance(new, Replace) or not isinstance(old, dict):
        return True
    return at in COMPONENTS and "name" in new and new["name"] != old.get("name")


def deep_merge(base: dict, override: dict, at: tuple[str, ...] = ()) -> dict:
    """``override`` on top of ``base`` (both at key path ``at``): mappings merge key by key, anything
    else replaces; :func:`starts_afresh` mappings replace too and ``!unset`` values remove the key."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        here = (*at, str(key))
        if value is UNSET:
            out.pop(key, None)
        elif isinstance(value, dict) and not starts_afresh(here, out.get(key), value):
            out[key] = deep_merge(out[key], value, here)
        else:
            out[key] = deep_merge({}, value, here) if isinstance(value, dict) else copy.deepcopy(value)
    return out


def read_yaml(path: Path) -> dict:
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.yaml"))[:5]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise RecipeError([f"recipe {str(path)!r} is a folder, not a YAML file; give a recipe file{hint}"])
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RecipeError([f"recipe file {str(path)!r} does not exist; check the path"]) from None
    except UnicodeDecodeError:
        raise RecipeError(["not a text file; a recipe is YAML text"], str(path)) from None
    except OSError as exc:
        raise RecipeError([f"cannot read the recipe: {exc.strerror or exc}"], str(path)) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        hint = "; a tag needs a space after it, e.g. {depth: !unset }" if getattr(exc, "context", None) == "while scanning a tag" else ""
        raise RecipeError([f"invalid YAML{line}: {getattr(exc, 'problem', exc)}{hint}"], str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError([f"a recipe must be a mapping of keys, got {type(data).__name__}"], str(path))
    return data


def _resolve(path: Path, seen: tuple[Path, ...]) -> tuple[dict, list[tuple[Path, dict]]]:
    """The merged recipe at ``path`` and every file of its ``base:`` chain in merge order."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise RecipeError([f"base: recipes inherit in a cycle ({chain})"])
    data = read_yaml(path)
    base = data.pop("base", None)
    bases = [] if base is None else base if isinstance(base, list) else [base]
    merged: dict = {}
    files: list[tuple[Path, dict]] = []
    for b in bases:
        if not isinstance(b, str):
            raise RecipeError([f"base: expected a path to another recipe, got {b!r}"], str(path))
        data_b, files_b = _resolve(path.parent / b, (*seen, path))
        merged = deep_merge(merged, data_b)
        files += files_b
    return deep_merge(merged, data), [*files, (path, data)]


def resolve_bases(path: Path) -> dict:
    """The recipe at ``path`` with its ``base:`` chain merged underneath (paths relative to the file)."""
    return _resolve(Path(path), ())[0]


def _leaves(data: dict, prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, path + ".")
        else:
            yield path, value


def _lookup(data: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return UNSET
        data = data[key]
    return data


def inherited_keys(merged: dict, files: list[tuple[Path, dict]]) -> dict[str, str]:
    """``{key path: file}`` for each value of ``merged`` that the last file (the recipe itself) does not set.

    A value comes from the last file in merge order that sets its key; files are named relative to the recipe's folder."""
    top = files[-1][0]
    origins = {}
    for key, _ in _leaves(merged):
        source = next((p for p, d in reversed(files) if _lookup(d, key) is not UNSET), top)
        if source != top:
            origins[key] = os.path.relpath(source, top.parent)
    return origins


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"stages.sft.optimizer.lr=1e-5"`` -> (["stages", "sft", "optimizer", "lr"], 1e-05)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise RecipeError([f"override {item!r}: expected KEY=VALUE with a dotted key, e.g. stages.sft.optimizer.lr=1e-5"])
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value):
        value = float(value)  # YAML 1.1 reads 1e-5 as a string
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """``data`` with each ``KEY=VALUE`` set (a value replaces what is there; ``!unset`` removes the
    key; a new component ``name`` drops the old component's options, as in inheritance)."""
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
        last = path[-1]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is UNSET:
            node.pop(last, None)
        else:
            if last == "name" and starts_afresh(tuple(path[:-1]), node, {"name": value}):
                node.clear()
            node[last] = value
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


def validate_recipe(data: dict, source: str | None = None, origins: Mapping[str, str] | None = None) -> Recipe:
    """The :class:`Recipe` of ``data``; ``origins`` (``{key path: file}``) is kept for later problems."""
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(format_validation_error(err), source, origins) from None
    recipe.key_origins.update(origins or {})
    return recipe


def load_recipe(path: str | os.PathLike, overrides: Iterable[str] = ()) -> Recipe:
    """Read, inherit, override, expand and validate the recipe at ``path``. Imports no torch."""
    path = Path(path)
    merged, files = _resolve(path, ())
    data = apply_overrides(merged, overrides)
    origins = {k: f for k, f in inherited_keys(merged, files).items() if _lookup(data, k) == _lookup(merged, k)}
    data.setdefault("name", path.stem)
    data = expand_vars(data, {"recipe": str(data["name"]), "recipe_dir": str(path.resolve().parent)})
    return validate_recipe(data, str(path), origins)
