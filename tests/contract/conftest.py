"""Fixtures for the contract suite: a loopback server per test and every adapter pointed at it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Tests run with --import-mode=importlib and no __init__.py: make the helper modules importable.
sys.path.insert(0, str(Path(__file__).parent))

from adapter_cases import CASES, AdapterCase  # needs the path set just above
from loopback import LoopbackServer  # needs the path set just above
from redis_server import BINARY, SKIP_REASON, RedisServer  # needs the path set just above


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 for the module's tests; they skip where none is installed."""
    if BINARY is None:
        pytest.skip(SKIP_REASON)
    with RedisServer() as server:
        yield server


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture(params=CASES, ids=lambda case: case.id)
def case(request: pytest.FixtureRequest) -> AdapterCase:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make_adapter(server: LoopbackServer, case: AdapterCase) -> Iterator[Callable[..., Any]]:
    """Build the case's adapter with options; every adapter built is closed afterwards."""
    built: list[Any] = []

    def make(**options: Any) -> Any:
        adapter = case.build(server, **options)
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        adapter.close()


@pytest.fixture
def adapter(make_adapter: Callable[..., Any]) -> Any:
    return make_adapter()
