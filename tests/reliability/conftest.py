"""Fixtures for the reliability suite: the contract suite's loopback server, on a fresh port per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests run with --import-mode=importlib and no __init__.py: reuse the contract suite's loopback
# and wire samples, and make this folder's helper modules importable.
sys.path.insert(0, str(Path(__file__).parent.parent / "contract"))
sys.path.insert(0, str(Path(__file__).parent))

from loopback import LoopbackServer  # needs the path set just above


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running
