"""What the routing and budget-store tests share: the routing decisions, logged and read."""

from __future__ import annotations

import logging

import pytest
from clock import START, FakeClock

__all__ = ["START", "Clock", "routing_events", "watch_routing"]

# The clock these tests share is tests/support/clock.py's; the names they had here are kept.
Clock = FakeClock


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
