"""benchmarks/count_tokens.py runs end to end on a tiny budget, so that it cannot rot unnoticed."""

from __future__ import annotations

import count_tokens  # benchmarks/ is a folder of scripts: pytest's pythonpath (pyproject.toml) finds them
import pytest


def test_the_benchmark_counts_a_4000_token_conversation_and_prints_its_ratios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = count_tokens.main(["--calls", "2", "--rounds", "1"])
    assert 4_000 <= figures["tokens"] <= 4_600
    assert figures["again"] > 0 and figures["new"] > 0 and figures["chat"] > 0
    printed = capsys.readouterr().out
    assert "new / chat: " in printed and "again / chat: " in printed
