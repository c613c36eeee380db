"""When the Redis reply cache leaves Redis alone after a failure, and what it logged: each kind once."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..redis_link import Trouble

__all__ = ["CacheOutage"]

logger = logging.getLogger("llmport.cache")


class CacheOutage:
    """Whether a call skips Redis, and what was logged: each kind of trouble once, until Redis
    works again (then that it is back); a value this store did not write, once.

    A failure leaves Redis alone for ``retry_every`` seconds: a Redis out of memory for writes
    only (it still serves what it holds), anything else for every round trip.

    Args:
        retry_every: seconds between a failure and the next round trip that tries Redis.
    """

    def __init__(self, retry_every: float) -> None:
        self.retry_every = retry_every
        self.until: float | None = None  # no round trip before this
        self.writes_until: float | None = None  # no write before this (out of memory)
        self.kind: str | None = None  # the kind of failure logged last, until Redis works again
        self._garbage_said = False
        self._lock = threading.Lock()

    def waiting(self, now: float, *, writes: bool) -> bool:
        """Whether a round trip (one that ``writes``) at ``now`` goes without Redis."""
        if self.until is not None and now < self.until:
            return True
        return writes and self.writes_until is not None and now < self.writes_until

    def failed(self, trouble: Trouble, now: float) -> None:
        """A round trip failed at ``now``: log it (once per kind), leave Redis alone for a while."""
        with self._lock:
            if trouble.kind != self.kind:
                self.kind = trouble.kind
                logger.warning(
                    "Redis reply cache: %s. Until it answers, calls go without the cache (a miss, "
                    "nothing stored, no single flight across processes); trying again every %.0f s",
                    trouble.message,
                    self.retry_every,
                )
            if trouble.kind == "memory":
                self.writes_until = now + self.retry_every
            else:
                self.until = now + self.retry_every

    def answered(self, writes: bool, now: float) -> None:
        """A round trip succeeded at ``now``: Redis works again (out of memory: once a write
        succeeds), and the log says so."""
        if self.kind is None and self.until is None and self.writes_until is None:
            return  # the usual case, without the lock
        with self._lock:
            self.until = None
            if self.kind == "memory" and not writes:
                return
            self.writes_until = None
            if self.kind is not None:
                logger.info("Redis reply cache reachable again; replies are shared again")
                self.kind = None

    def garbage(self, prefix: str) -> None:
        """A value read was not one this store wrote: logged the first time only."""
        with self._lock:
            if self._garbage_said:
                return
            self._garbage_said = True
        logger.warning(
            "Redis reply cache: a value under %r was not written by this store (another program's "
            "key, or cut short): read as a miss, written again after the call",
            prefix,
        )

    def after_fork(self) -> None:
        """In a forked child: a new lock (one held by a parent's thread would never open)."""
        self._lock = threading.Lock()
