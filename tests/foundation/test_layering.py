"""Nothing in vlmkit imports upward. Every import statement of every module (function-local ones
included) is read with :mod:`ast`, and an import of a higher layer fails,
naming the file, the line and the edge. Imports under ``if TYPE_CHECKING:`` are the one exception:
they never run (no cycle, no load order), so the registry can name each kind's interface in its
types (``Registry[Callable[..., VisionEncoder]]``).

Layers, lowest first; a module may import its own layer and the layers below it:

0. ``registry``, ``plugin_loading``, ``config``, ``storage`` (weights, atomic writes, caches),
   ``console`` (one-line errors, exit codes) and the ``vlmkit`` package itself (light: it reaches
   the rest only through lazy names);
1. ``model``;
2. ``data``;
3. ``train``, ``eval``, ``export``; ``preflight``/``preflight_model`` (the checks run before
   training: they use train's precision and freezing rules, and train's entry runs them);
   ``plugin`` (vlmkit's own plugin hook, which calls every package's ``builtins.register``);
4. ``experiments`` (demo, ablations: they train, evaluate and export) and ``testing`` (the public
   conformance suites and synthetic batches); no other vlmkit module imports ``testing``, which is
   for tests, benchmarks and plugin authors;
5. ``commands`` and ``cli`` (the ``vlmkit`` command).

Imports made from strings (the registry's ``"module:attr"`` factories, ``importlib``) are not
read: they are resolved where they are used, which is what keeps registering cheap.
"""

from __future__ import annotations

import ast
from pathlib import Path

import vlmkit

PACKAGE = Path(vlmkit.__file__).parent
ROOT = "vlmkit"  # how the package itself is named in LAYERS

LAYERS: list[set[str]] = [
    {ROOT, "registry", "plugin_loading", "config", "storage", "console"},
    {"model"},
    {"data"},
    {"train", "eval", "export", "preflight", "preflight_model", "plugin"},
    {"experiments", "testing"},
    {"commands", "cli"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
ONLY_FOR_OUTSIDE = {"testing"}

# Upward edges still in the tree when this test was written, each to be removed with its fix (then
# test_every_known_edge_still_exists fails until the entry goes too). Never add to it.
# Entry: (importing file relative to vlmkit/, the part it imports).
KNOWN_EDGES: set[tuple[str, str]] = {
    # the deprecated alias of vlmkit.data.tokenize.chat_templates (issue #18 item 4) imports the new home
    ("model/llm/chat_templates/__init__.py", "data"),
}


def module_name(path: Path, package: Path) -> str:
    """``vlmkit/train/stages.py`` -> ``vlmkit.train.stages``; a package's ``__init__`` is the package."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, package: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every vlmkit module ``path`` imports, relative imports resolved.
    ``from vlmkit import cli`` counts as importing ``vlmkit.cli`` when ``cli`` is a module."""
    name = module_name(path, package)
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for block in ast.walk(tree) if is_type_checking_block(block) for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (package.parent / sub.replace(".", "/")).with_suffix(".py").is_file() or \
                    (package.parent / sub.replace(".", "/")).is_dir()
                found.add((node.lineno, sub if is_module else base))
    return sorted((line, mod) for line, mod in found if mod.split(".")[0] == package.name)


def is_type_checking_block(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:`` (its ``else`` runs, so it is read)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def part_of(module: str) -> str:
    """The top-level part a module belongs to: ``vlmkit.train.stages`` -> ``train``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def violations(package: Path) -> list[str]:
    """One line per upward import (or import of a part in no layer) under ``package``."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        source = part_of(module_name(path, package))
        for line, target in imported_modules(path, package):
            dest = part_of(target)
            if source == dest or (rel, dest) in KNOWN_EDGES:
                continue
            where = f"vlmkit/{rel}:{line}: {source} imports {target}"
            if source not in RANK or dest not in RANK:
                unknown = source if source not in RANK else dest
                problems.append(f"{where}: {unknown!r} is in no layer; add it to LAYERS in {Path(__file__).name} and docs/plugins.md")
            elif RANK[dest] > RANK[source]:
                problems.append(f"{where}, a higher layer ({RANK[source]} -> {RANK[dest]})")
            elif dest in ONLY_FOR_OUTSIDE:
                problems.append(f"{where}: {dest} is for tests and plugin authors, not for the library")
    return problems


def test_nothing_in_vlmkit_imports_upward():
    problems = violations(PACKAGE)
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_every_known_edge_still_exists():
    """A removed edge must leave KNOWN_EDGES too, so the set only shrinks."""
    present = {(p.relative_to(PACKAGE).as_posix(), part_of(mod)) for p in PACKAGE.rglob("*.py") for _, mod in imported_modules(p, PACKAGE)}
    assert KNOWN_EDGES <= present, f"gone, remove from KNOWN_EDGES: {sorted(KNOWN_EDGES - present)}"


def test_the_check_sees_local_relative_and_from_package_imports(tmp_path):
    package = tmp_path / "vlmkit"
    for folder in ("model", "train", "commands", "experiments"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text("")
    (package / "model" / "vlm.py").write_text("def f():\n    from ..train import stages\n")
    (package / "train" / "stages.py").write_text("import os\nfrom vlmkit import cli\n")
    (package / "experiments" / "demo.py").write_text("from vlmkit.train import stages\nfrom vlmkit.testing import x\n")
    (package / "commands" / "train.py").write_text("from vlmkit.train.stages import run\n")  # downward: fine
    (package / "model" / "types.py").write_text(  # only for type checkers: fine; its else branch runs
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vlmkit.train import stages\nelse:\n    from vlmkit import cli\n")
    assert violations(package) == [
        "vlmkit/experiments/demo.py:2: experiments imports vlmkit.testing: testing is for tests and plugin authors, not for the library",
        "vlmkit/model/types.py:5: model imports vlmkit.cli, a higher layer (1 -> 5)",
        "vlmkit/model/vlm.py:2: model imports vlmkit.train.stages, a higher layer (1 -> 3)",
        "vlmkit/train/stages.py:2: train imports vlmkit.cli, a higher layer (3 -> 5)",
    ]
