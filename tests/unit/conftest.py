"""Shared doubles for the unit tests: an injected clock that only moves when told."""

from __future__ import annotations

import threading

import pytest


class FakeClock:
    """Injected time for tests: ``clock()`` reads it, ``clock.sleep(s)`` records ``s`` and moves it on.

    Given as ``sleep=clock.sleep, clock=clock`` to a Retrier (or ``clock=clock`` to a TokenCache),
    it lets tests check exact waits without waiting.

    Args:
        start: the initial reading, in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.now = start
        self.sleeps: list[float] = []

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now!r}, sleeps={len(self.sleeps)})"

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and advance the clock by it."""
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        """Move the clock on without recording a sleep (time spent elsewhere)."""
        with self._lock:
            self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A clock starting at 1000 s (so that "0" never hides a bug)."""
    return FakeClock(1000.0)
