"""docs/design.md draws every module of the package on its floor: a module the drawing does not name fails.

The drawing is the first code block under "Floors and who imports whom"; each line that names a
folder as ``folder/:`` lists that folder's modules after the colon (``llmport/:`` is the package
root). Words in parentheses are comments.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {"tests", "benchmarks", "examples", "build", "docs"}


def drawing() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "design.md").read_text()
    section = text.split("## Floors and who imports whom", 1)[1]
    block = section.split("```", 2)[1]
    named: dict[str, set[str]] = {}
    for line in block.splitlines():
        found = re.search(r"([\w/]+/):(.*)", re.sub(r"\([^)]*\)", "", line))
        if found:
            folder = "" if found[1] == "llmport/" else found[1].rstrip("/")
            named.setdefault(folder, set()).update(re.findall(r"\w+", found[2]))
    return named


def modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in SKIPPED or relative.parts[0].startswith("."):
            continue
        folder = "/".join(relative.parts[:-1])
        if path.stem == "__init__" and folder:
            continue  # a sub-package's __init__ is its folder, drawn by name
        found.setdefault(folder, set()).add(path.stem)
    return found


def test_the_drawing_names_every_module_of_the_package() -> None:
    named = drawing()
    missing = {
        f"{folder}/{stem}.py" if folder else f"{stem}.py"
        for folder, stems in modules().items()
        for stem in stems
        if stem not in named.get(folder, set())
    }
    assert missing == set(), "docs/design.md's drawing leaves out these modules"


def test_the_drawing_names_no_module_that_is_gone() -> None:
    present = modules()
    gone = {
        f"{folder}/{stem}"
        for folder, stems in drawing().items()
        for stem in stems - present.get(folder, set())
    }
    assert gone == set(), "docs/design.md's drawing names modules that do not exist"


def test_the_check_reads_the_drawing() -> None:
    named = drawing()
    assert {"", "domain", "settings", "adapters/llm/wire", "services", "container"} <= set(named)
    assert "ports" in named["domain"] and "testing" in named[""]
