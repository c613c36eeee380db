"""When the Redis store serves from its fallback: from a failed round trip until Redis takes a write."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..redis_link import Trouble

__all__ = ["Outage"]

logger = logging.getLogger("llmport.budget")


class Outage:
    """Whether Redis is down for the store, and what was logged: each kind of trouble once, until
    Redis is back, and then that it is back. Not locked: the store holds its lock around it.

    Args:
        retry_every: seconds between attempts to reach Redis again after it failed.
    """

    def __init__(self, retry_every: float) -> None:
        self.retry_every = retry_every
        self.until: float | None = None  # None: Redis is in use; else when to try it again
        self.kind: str | None = None  # the kind of failure logged last, until Redis is back

    def waiting(self, now: float) -> bool:
        """Whether a call at ``now`` goes to the fallback without trying Redis."""
        return self.until is not None and now < self.until

    def begin(self, trouble: Trouble, members: int, now: float) -> None:
        """A round trip failed at ``now``: log it (once per kind) and serve from the fallback
        until ``retry_every`` from now; ``members``: the processes last counted sharing the store."""
        if trouble.kind != self.kind:  # each trouble once, until Redis is back
            self.kind = trouble.kind
            logger.warning(
                "Redis budget store: %s. Until it answers, this process takes its share of "
                "each budget (1/%d: the processes last counted sharing the store); "
                "retrying every %.0f s",
                trouble.message,
                members,
                self.retry_every,
            )
        self.until = now + self.retry_every

    def answered(self, writes: bool, now: float) -> None:
        """A round trip succeeded: one that ``writes`` ends the outage (and says so); a read only
        makes the next write try Redis again."""
        if writes:
            if self.kind is not None:
                logger.info("Redis budget store reachable again; budgets are shared again")
            self.until = self.kind = None
        elif self.until is not None:
            self.until = now
