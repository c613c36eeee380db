"""A call's deadline, set by the retry owner for each attempt and read by adapters to bound their waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Deadline", "current_deadline", "deadline_scope"]


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment a call must be over, on the clock of whoever set it.

    The clock is carried along because the services' clock is injected (tests use a fake one),
    while an adapter waits on real sockets: it asks ``remaining()`` once, when an attempt starts,
    and measures that many seconds on its own clock.
    """

    at: float
    clock: Callable[[], float]

    def remaining(self) -> float:
        """Seconds left; zero or less once the deadline has passed."""
        return self.at - self.clock()


_CURRENT: ContextVar[Deadline | None] = ContextVar("llmport_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline of the call running on this thread (or context), if it has one."""
    return _CURRENT.get()


@contextmanager
def deadline_scope(deadline: Deadline | None) -> Iterator[None]:
    """Make ``deadline`` the current one for the block (None: no deadline)."""
    token = _CURRENT.set(deadline)
    try:
        yield
    finally:
        _CURRENT.reset(token)
