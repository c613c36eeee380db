"""Start @copilotkit/aimock's ``llmock`` on 127.0.0.1 with a fixture table (it skips the test when absent)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ports import free_port

__all__ = ["running_aimock"]


def _binary() -> str | None:
    local = Path(__file__).resolve().parents[2] / ".ci" / "node" / "node_modules" / ".bin" / "llmock"
    if local.exists():
        return str(local)
    return os.environ.get("LLMPORT_AIMOCK_BIN") or shutil.which("llmock")


def _wait_healthy(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llmock exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:  # noqa: S310  # our loopback URL
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("llmock did not become healthy within 20 s")


@contextmanager
def running_aimock(
    fixtures: Sequence[Mapping[str, Any]], directory: Path, keys: Sequence[str]
) -> Iterator[str]:
    """Serve ``fixtures`` (aimock's ``{"match": ..., "response": ...}``), accepting only ``keys``.

    Yields ``http://127.0.0.1:PORT``; skips the calling test when llmock is not installed
    (``bash .ci/servers`` installs it into .ci/node).
    """
    binary = _binary()
    if binary is None:
        pytest.skip(
            "needs @copilotkit/aimock's llmock (Node.js 20): run `bash .ci/servers` from the repository "
            "root, or set LLMPORT_AIMOCK_BIN"
        )
    fixture_file = directory / "fixtures.json"
    fixture_file.write_text(json.dumps({"fixtures": list(fixtures)}))
    port = free_port()
    command = [binary, "--host", "127.0.0.1", "--port", str(port), "--fixtures", str(fixture_file)]
    process = subprocess.Popen(
        [*command, "--log-level", "warn"],
        env={**os.environ, "AIMOCK_API_KEYS": ",".join(keys)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, time.monotonic() + 20)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
