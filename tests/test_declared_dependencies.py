"""Every third-party module the package imports at module level is declared in pyproject
(`parlor.client` once imported numpy, which the package did not declare): by
[project].dependencies, or by the extra whose feature imports it. Optional back ends
(asyncpg, redis) and the load generator (bench/) must import theirs lazily, inside the
function that needs them, so that a plain install starts."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "parlor"
# Modules that only run with an extra installed: (path prefix under src/parlor, extra).
OPTIONAL = {"bench/": "test"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """The distributions named, and what they require in turn (installed ones)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def _top_level_imports(tree: ast.Module) -> set[str]:
    """Modules imported when the module is, not inside functions nor `if TYPE_CHECKING:`."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)
            elif isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    return found


def test_every_module_level_third_party_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = _closure({_name(r) for r in project["dependencies"]})
    optional = project["optional-dependencies"].items()
    extras = {extra: base | _closure({_name(r) for r in reqs}) for extra, reqs in optional}
    by_module = md.packages_distributions()
    undeclared = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("storage/migrations/"):
            continue  # run by alembic, which is declared
        extra = next((e for prefix, e in OPTIONAL.items() if relative.startswith(prefix)), None)
        declared = extras[extra] if extra else base
        for module in _top_level_imports(ast.parse(path.read_text())):
            if module == "parlor" or module in sys.stdlib_module_names or module.startswith("_"):
                continue
            dists = {_name(d) for d in by_module.get(module, [module])}
            if not dists & declared:
                undeclared[f"{relative}: {module}"] = sorted(dists)
    assert not undeclared, undeclared


def test_the_check_sees_an_undeclared_import() -> None:
    tree = ast.parse("import numpy\nif TYPE_CHECKING:\n    import redis\ndef f():\n    import asyncpg\n")
    assert _top_level_imports(tree) == {"numpy"}
