"""The fixtures every suite shares, as a pytest plugin (``pytest_plugins`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clock import FakeClock
from loopback import LoopbackServer
from redis_server import BINARY, SKIP_REASON, RedisServer

__all__ = ["clock", "redis_server", "server"]


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at ``clock.START``, moved only by the test and by the sleeps it is given."""
    return FakeClock()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """The loopback OpenAI / Azure OpenAI server on a fresh port, closed after the test."""
    with LoopbackServer() as running:
        yield running


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 for the module's tests; they skip where none is installed."""
    if BINARY is None:
        pytest.skip(SKIP_REASON)
    with RedisServer() as server:
        yield server
