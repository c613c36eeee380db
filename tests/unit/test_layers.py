"""The package's shape, read from its own imports: every import points down a floor, and nothing loops.

Floors, top to bottom: the public API (``__init__``, ``__main__``, ``testing``) > the entry points
(``entrypoints/``) > the composition root (``container``) > ``adapters/`` and ``services/`` side by
side (neither imports the other) > ``settings`` > ``domain/`` (the standard library only).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "llmport"
FLOORS = {
    "domain": 0,
    "settings": 1,
    "adapters": 2,
    "services": 2,
    "container": 3,
    "entrypoints": 4,
    "api": 5,
}
# Third-party packages each floor may import; the domain none at all.
VENDORS = {
    "domain": set(),
    "settings": {"tomli"},
    "services": {"structlog", "cachetools"},
    "adapters": {"openai", "httpx2", "httpcore2", "azure", "opentelemetry", "redis", "tiktoken"},
    "container": {"dependency_injector"},
    "entrypoints": {"flask", "django", "tqdm"},
    "api": {"pytest", "dependency_injector"},
}


def floor_of(module: str) -> str:
    """The floor of ``llmport.x.y``: its first component, with the top-level modules named."""
    parts = module.split(".")[1:]
    if not parts or parts[0] in ("__init__", "__main__", "testing"):
        return "api"
    if parts[0].startswith("_settings") or parts[0] == "settings":
        return "settings"
    if parts[0].startswith("container"):
        return "container"
    return parts[0]


def package_modules() -> Iterator[tuple[str, Path]]:
    skipped = {"tests", "benchmarks", "examples", "build", "docs", ".venv"}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in skipped or relative.parts[0].startswith("."):
            continue
        dotted = ".".join((PACKAGE, *relative.with_suffix("").parts))
        yield dotted.removesuffix(".__init__"), path


def imports_of(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports, absolute, with its line (relative imports resolved).

    Imports under ``if TYPE_CHECKING:`` and inside functions count as any other: they are a
    dependency all the same, and a circle through them is a knot a reader must untie.
    """
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.module or "", node.lineno
                continue
            anchor = base[: len(base) - (node.level - 1)]
            target = ".".join((*anchor, node.module)) if node.module else ".".join(anchor)
            # "from .. import container" names modules, not attributes: check each.
            names = [f"{target}.{alias.name}" for alias in node.names] if not node.module else [target]
            for name in names:
                yield name, node.lineno


MODULES = dict(package_modules())
# The standard library of the newest Python we support: settings read TOML with tomllib, imported
# behind a version check (Python 3.10 has tomli instead), and 3.10's list does not name it.
STDLIB = sys.stdlib_module_names | {"tomllib"}


def _upward(modules: dict[str, Path]) -> list[str]:
    problems = []
    for module, path in modules.items():
        mine = floor_of(module)
        for imported, line in imports_of(module, path):
            where = f"{path.name}:{line} ({module}) imports {imported}"
            if imported.split(".")[0] == PACKAGE:
                theirs = floor_of(imported)
                if FLOORS[theirs] > FLOORS[mine]:
                    problems.append(f"{where}: {mine} may not import {theirs} (a higher floor)")
                elif {mine, theirs} == {"adapters", "services"}:
                    problems.append(f"{where}: adapters and services stand side by side")
            else:
                top = imported.split(".")[0]
                if top and top not in STDLIB and top not in _allowed(mine):
                    problems.append(f"{where}: {mine} may not import the vendor package {top}")
    return problems


def _allowed(floor: str) -> set[str]:
    # A floor may use what the floors below it may use.
    below = (VENDORS[name] for name in FLOORS if FLOORS[name] <= FLOORS[floor] and name != "api")
    return set().union(*below, VENDORS[floor])


def test_every_module_of_the_package_has_a_floor() -> None:
    assert len(MODULES) > 30
    assert {floor_of(module) for module in MODULES} == set(FLOORS)


def test_no_import_points_up_a_floor_and_the_domain_uses_only_the_standard_library() -> None:
    assert _upward(MODULES) == []


def _circles(modules: dict[str, Path]) -> list[str]:
    """Every import circle among ``modules``, each as ``a -> b -> a``."""
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in modules.items():
        for imported, _line in imports_of(module, path):
            # "from .x import y" may name the module x.y or an attribute of x.
            target = imported if imported in modules else imported.rpartition(".")[0]
            if target in modules and target != module:
                graph[module].add(target)
    circles: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return circles


def test_no_module_imports_itself_through_a_circle_not_even_under_type_checking() -> None:
    assert _circles(MODULES) == []


def test_the_check_catches_a_circle_closed_under_type_checking(tmp_path: Path) -> None:
    model, checks = tmp_path / "model.py", tmp_path / "checks.py"
    model.write_text("from .checks import check\n", encoding="utf-8")
    checks.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .model import Settings\n",
        encoding="utf-8",
    )
    planted = {"llmport.settings.model": model, "llmport.settings.checks": checks}
    circle = "llmport.settings.checks -> llmport.settings.model -> llmport.settings.checks"
    assert _circles(planted) == [circle]


# What the other floors may import of settings/: its package (the API) and the module of Settings.
SETTINGS_API = {"llmport.settings", "llmport.settings.model"}


def _private_settings_imports(modules: dict[str, Path]) -> list[str]:
    found = []
    for module, path in modules.items():
        if floor_of(module) == "settings":
            continue
        for imported, line in imports_of(module, path):
            target = imported if imported in MODULES else imported.rpartition(".")[0]
            if floor_of(target) == "settings" and target not in SETTINGS_API:
                found.append(f"{path.name}:{line} ({module}) imports {imported}")
    return found


def test_other_floors_reach_settings_only_through_its_api() -> None:
    assert _private_settings_imports(MODULES) == []


def test_the_check_catches_an_import_of_a_private_settings_module(tmp_path: Path) -> None:
    planted = tmp_path / "doctor.py"
    planted.write_text("from ...settings.routing import redacted_store\n", encoding="utf-8")
    problems = _private_settings_imports({"llmport.entrypoints.cli.doctor": planted})
    assert problems == ["doctor.py:1 (llmport.entrypoints.cli.doctor) imports llmport.settings.routing"]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("from ..container import build_client\n", "services may not import container"),
        ("from ..adapters.fakes import FakeChat\n", "adapters and services stand side by side"),
        ("import flask\n", "may not import the vendor package flask"),
    ],
)
def test_the_check_catches_an_upward_import(tmp_path: Path, source: str, problem: str) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(source, encoding="utf-8")
    problems = _upward({"llmport.services.planted": planted})
    assert len(problems) == 1
    assert problem in problems[0]
