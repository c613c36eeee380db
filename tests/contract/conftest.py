"""Fixtures for the contract suite: every adapter case, built against the shared loopback server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from adapter_cases import CASES, AdapterCase
from loopback import LoopbackServer


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
