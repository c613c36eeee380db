"""What the routing and budget-store tests share: a clock they move by hand, the routing decisions logged."""

from __future__ import annotations

import logging

import pytest

__all__ = ["START", "Clock", "routing_events", "watch_routing"]

#: A quarter past a second: a bucket's room comes back 60.75 s later; a lease taken then is
#: charged to that second.
START = 1_700_000_000.25


class Clock:
    """The budget stores', routers' and quota servers' clock (``time.time``'s epoch), moved by the test.

    ``sleep`` is the Retrier's: it records each wait and moves the clock past it.
    """

    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def watch_routing(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture the budget store's notices and every routing decision."""
    caplog.set_level(logging.INFO, logger="llmport.budget")
    caplog.set_level(logging.DEBUG, logger="llmport.routing")  # last: it sets the handler's level too
    return caplog


def routing_events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """The (event, deployment) of each routing decision logged, in order."""
    return [
        (record.routing["event"], record.routing["deployment"])
        for record in caplog.records
        if hasattr(record, "routing")
    ]
