"""examples/record_replay, the README's "Record and replay": replayed offline from its committed
cassettes, and re-recorded against the loopback into the very same bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from example_cassettes import DOCS, KEY
from loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "record_replay"


def pytest_run(folder: Path, *options: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("AZURE_", "LLMPORT_"))}
    return subprocess.run(  # our own interpreter, on our own example
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
        env={**clean, **env},
        check=False,
    )


def test_the_example_passes_offline_from_its_cassettes_under_the_network_guard() -> None:
    result = pytest_run(EXAMPLE, "--llmport-block-network", LLMPORT_RECORD_MODE="replay")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_re_recording_the_example_gives_back_its_committed_cassettes_byte_for_byte(tmp_path: Path) -> None:
    copy = tmp_path / "record_replay"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("cassettes", "__pycache__"))
    with LoopbackServer(api_key=KEY) as server:
        server.respond_with(lambda _index, recorded: DOCS.answering(recorded))
        result = pytest_run(copy, AZURE_OPENAI_ENDPOINT=server.url, AZURE_OPENAI_API_KEY=KEY)
        assert result.returncode == 0, result.stdout + result.stderr
        assert server.count == 2
    committed = sorted((EXAMPLE / "cassettes").rglob("*.json"))
    assert [path.relative_to(EXAMPLE) for path in committed] == sorted(
        path.relative_to(copy) for path in (copy / "cassettes").rglob("*.json")
    )
    for path in committed:
        assert (copy / path.relative_to(EXAMPLE)).read_bytes() == path.read_bytes(), path.name
