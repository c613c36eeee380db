"""What is public: `llmport`, `llmport.testing`, the entry points; the README and examples use no more.

Every other module is internal and may move (docs/design.md, "Public surface"); a path an earlier
README taught keeps working, with a DeprecationWarning that names the public import.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import warnings
from pathlib import Path

import pytest

import llmport
import llmport.testing

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = re.compile(r"llmport(\.testing|\.entrypoints(\.[a-z_]+)*)?")


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def _imported_modules(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.split(".")[0] == "llmport"]


def _sources() -> dict[str, str]:
    sources = {
        f"README.md block {i}": block
        for i, block in enumerate(_python_blocks((ROOT / "README.md").read_text()))
    }
    for path in sorted((ROOT / "examples").rglob("*.py")):
        sources[str(path.relative_to(ROOT))] = path.read_text()
    return sources


def test_the_readme_and_the_examples_import_only_public_modules() -> None:
    sources = _sources()
    assert len(sources) > 20
    private = {
        where: module
        for where, source in sources.items()
        for module in _imported_modules(source)
        if not PUBLIC.fullmatch(module)
    }
    assert private == {}


def test_the_readme_names_no_internal_module_in_its_text() -> None:
    text = (ROOT / "README.md").read_text()
    # `llmport.adapters` alone is a logger's name; a module path goes one step further.
    assert re.findall(r"\bllmport\.(?:domain|adapters|services|settings|container)\.[a-z_]+", text) == []


def test_every_public_name_is_importable_and_documented() -> None:
    for module in (llmport, llmport.testing):
        for name in module.__all__:
            value = getattr(module, name)
            assert getattr(value, "__doc__", None), f"{module.__name__}.{name} has no docstring"


@pytest.mark.parametrize(
    ("old", "name", "public"),
    [
        ("llmport.services.routing", "Router", llmport.testing.Router),
        ("llmport.services.routing", "Deployment", llmport.testing.Deployment),
        ("llmport.adapters.budget_memory", "MemoryBudgetStore", llmport.testing.MemoryBudgetStore),
        ("llmport", "Container", llmport.testing.Container),
    ],
)
def test_a_path_an_earlier_readme_taught_still_works_and_says_where_to_go(
    old: str, name: str, public: object
) -> None:
    sys.modules.pop(old, None) if old.endswith("budget_memory") else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(importlib.import_module(old), name)
    assert value is public
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert messages and all("llmport.testing" in message for message in messages), messages


def test_the_test_hooks_are_in_llmport_testing_not_on_the_client_users_hold() -> None:
    assert "Container" not in llmport.__all__
    assert {"Container", "container_of"} <= set(llmport.testing.__all__)
    with llmport.from_dict({"provider": "fake"}) as client:
        assert [name for name in ("container", "swap_services") if hasattr(client, name)] == []
        container = llmport.testing.container_of(client)
        assert container.declarative_parent is llmport.testing.Container
        assert llmport.testing.container_of(client.with_options(timeout=5)) is container
