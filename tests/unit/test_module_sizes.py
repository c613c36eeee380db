"""No module of the package over 400 lines: one past it is split along a concept."""

from __future__ import annotations

from pathlib import Path

import pytest

import llmport

PACKAGE = Path(llmport.__file__).parent
LIMIT = 400

# Every floor of the package; "" is its root's own modules (__init__, __main__, testing).
FLOORS = ["", "domain", "settings", "adapters", "services", "container", "entrypoints"]


def _modules(floor: str) -> list[Path]:
    return sorted((PACKAGE / floor).rglob("*.py") if floor else PACKAGE.glob("*.py"))


@pytest.mark.parametrize("floor", FLOORS)
def test_no_module_is_over_400_lines(floor: str) -> None:
    over = {
        str(path.relative_to(PACKAGE)): lines
        for path in _modules(floor)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert over == {}
