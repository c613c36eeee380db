"""No module in adapters/ or domain/ over 400 lines: one past it is split along a concept."""

from __future__ import annotations

from pathlib import Path

import pytest

import llmport

PACKAGE = Path(llmport.__file__).parent
LIMIT = 400


@pytest.mark.parametrize("floor", ["adapters", "domain"])
def test_no_module_is_over_400_lines(floor: str) -> None:
    over = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted((PACKAGE / floor).rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert over == {}
