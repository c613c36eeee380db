"""Fixtures for the contract suite: a loopback server per test and every adapter pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from adapter_cases import CASES, AdapterCase
from loopback import LoopbackServer
from redis_server import BINARY, SKIP_REASON, RedisServer


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
