"""No function in adapters/ or domain/ over cyclomatic complexity 15, counted as radon counts it.

ruff's C901 (mccabe) counts branches only; radon also counts each ``and``/``or`` and each
comprehension, which is where stream readers hide their decisions: this counts as radon does
(``radon cc``), with no dependency on it. Nested functions count on their own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import llmport

PACKAGE = Path(llmport.__file__).parent
LIMIT = 15

# Every floor of the package; "" is its root's own modules (__init__, __main__, testing).
FLOORS = ["", "domain", "settings", "adapters", "services", "container", "entrypoints"]


def _modules(floor: str) -> list[Path]:
    return sorted((PACKAGE / floor).rglob("*.py") if floor else PACKAGE.glob("*.py"))


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def complexity(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """1 + one per decision: if, conditional expression, loop (and its else), except handler (and a
    try's else), each extra operand of and/or, comprehension (and its ifs), match case, assert."""
    count = 1
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Try):
            count += len(node.handlers) + bool(node.orelse)
        elif isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        elif isinstance(node, (ast.If, ast.IfExp, ast.Assert)):
            count += 1
        elif isinstance(node, ast.Match):
            count += sum(1 for case in node.cases if not _wildcard(case))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            count += 1 + bool(node.orelse)
        elif isinstance(node, ast.comprehension):
            count += 1 + len(node.ifs)
        stack.extend(ast.iter_child_nodes(node))
    return count


def _wildcard(case: ast.match_case) -> bool:
    return isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None


def _scores(source: str) -> dict[str, int]:
    return {
        f"{node.name}:{node.lineno}": complexity(node)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, _FUNCTIONS)
    }


def test_the_count_is_radons() -> None:
    source = """
def f(a, b, c):
    if a and b or c:                       # if, and, or (two operators)
        return [x for x in a if x]         # comprehension and its if
    for item in b:                         # loop
        try:
            pass
        except ValueError:                 # handler
            pass
    return 1 if c else 2                   # conditional expression
"""
    assert _scores(source) == {"f:2": 9}  # radon cc: 9


@pytest.mark.parametrize("floor", FLOORS)
def test_no_function_is_over_15(floor: str) -> None:
    over = {
        f"{path.relative_to(PACKAGE)}:{name}": score
        for path in _modules(floor)
        for name, score in _scores(path.read_text(encoding="utf-8")).items()
        if score > LIMIT
    }
    assert over == {}
