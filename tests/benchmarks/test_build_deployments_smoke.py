"""benchmarks/build_deployments.py runs end to end on a few deployments, so that it cannot rot unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "build_deployments.py"


def test_the_build_benchmark_prints_a_line_per_mode() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--deployments", "3", "--provider", "openai"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "3 deployments, provider openai"
    assert [line.split()[0] for line in lines[1:]] == ["llmport", "raw"]
    assert all("peak RSS" in line and "MiB" in line for line in lines[1:])
