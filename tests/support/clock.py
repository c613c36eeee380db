"""One fake clock for every suite: time that moves only when the test, or an injected sleep, moves it."""

from __future__ import annotations

import threading

__all__ = ["START", "FakeClock"]

#: The default reading, on ``time.time``'s epoch (never "0", which hides bugs), a quarter past a
#: second: a budget bucket's room comes back 60.75 s later; a lease taken then is charged to that second.
START = 1_700_000_000.25


class FakeClock:
    """Injected time: ``clock()`` reads it, ``clock.sleep(s)`` records ``s`` and moves it on. Thread-safe.

    Given as ``sleep=clock.sleep, clock=clock`` to a Retrier, a Router, a budget store, a quota
    server or the container's ``sleep`` and ``clock`` providers, it lets tests check exact waits
    without waiting. ``now`` can be read and set (``clock.now += 5``); ``advance(s)`` moves it
    without recording a sleep (time spent elsewhere).

    Args:
        start: the initial reading, in seconds.
    """

    def __init__(self, start: float = START) -> None:
        self._lock = threading.Lock()
        self._now = start
        self.start = start
        self.sleeps: list[float] = []

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now!r}, sleeps={len(self.sleeps)})"

    def __call__(self) -> float:
        return self.now

    @property
    def now(self) -> float:
        """The current reading."""
        with self._lock:
            return self._now

    @now.setter
    def now(self, value: float) -> None:
        with self._lock:
            self._now = value

    @property
    def elapsed(self) -> float:
        """Seconds since ``start``."""
        with self._lock:
            return self._now - self.start

    def sleep(self, seconds: float) -> None:
        """Record the wait and advance the clock by it."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move the clock on without recording a sleep."""
        with self._lock:
            self._now += seconds

    # The names two of the four clocks this one replaced gave the same list (harness's FakeTime,
    # routing_helpers' Clock): kept so that tests written against them still read it.
    @property
    def waits(self) -> list[float]:
        """``sleeps``, under harness.FakeTime's name."""
        return self.sleeps

    @property
    def slept(self) -> list[float]:
        """``sleeps``, under routing_helpers.Clock's name."""
        return self.sleeps
