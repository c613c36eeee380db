"""llmport as it was before the reply cache (issue 21), importable next to today's for the cache benchmark.

``git archive`` of the commit before the first issue-21 commit, unpacked into a temporary folder as the
package ``llmport_before``: the package imports itself only relatively, so both versions load in one
process and can be timed call for call, alternated, against the same loopback server.
"""

from __future__ import annotations

import atexit
import importlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

__all__ = ["BEFORE", "load_before"]

#: The last commit before issue 21 (the CacheStore port, 33b8bc8, was its first).
BEFORE = "4ce3687"

REPO = Path(__file__).resolve().parent.parent


def load_before(commit: str = BEFORE) -> ModuleType:
    """The package at ``commit``, imported as ``llmport_before`` (from a temporary folder).

    Raises:
        RuntimeError: git could not produce the commit's tree.
    """
    # Our own git over a fixed commit name: no outside input reaches the command.
    done = subprocess.run(  # noqa: S603
        ["git", "-C", str(REPO), "archive", "--format=tar", commit],  # noqa: S607
        capture_output=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git archive {commit} failed: {done.stderr.decode()[-500:]}")
    root = Path(tempfile.mkdtemp(prefix="llmport-before-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)  # its modules load lazily: kept till exit
    package = root / "llmport_before"
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        members = [
            m for m in tar.getmembers() if not m.name.startswith(("tests/", "benchmarks/", "examples/"))
        ]
        tar.extractall(package, members=members, filter="data")
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module("llmport_before")
    finally:
        sys.path.remove(str(root))
