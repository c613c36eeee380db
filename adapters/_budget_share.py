"""A Redis budget store's share: the processes sharing the store, and this one's part of each budget.

About once a second a store's round trip also registers its process in a sorted set of the
store's (``<prefix>:processes``, scored by when each was last seen; a process unseen for a window
leaves it), counts the processes in it, and reads every budget it has seen. When the store falls
back to this process's memory, the fallback gets each limit over that count, and is first
charged this process's share of what Redis had counted: so the processes that fall back together
take no more than what the window had left, not a whole budget each.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from ..domain.budget import BUCKET_LIFETIME, Budget, Remaining
from .budget_memory import MemoryBudgetStore

__all__ = ["BEAT_EVERY", "Share"]

#: Seconds between two counts of the processes sharing a store.
BEAT_EVERY = 1.0


class Share:
    """This process among those sharing a store (see the module's docstring); thread-safe."""

    def __init__(self, prefix: str, margin: int) -> None:
        self._key = f"{prefix}:processes"
        self._margin = margin
        self._lock = threading.Lock()
        self.after_fork()

    def after_fork(self) -> None:
        """A process of its own: a new id, nothing counted yet (a forked child too)."""
        self._lock = threading.Lock()
        self._id = uuid.uuid4().hex
        self.members = 1
        self._beaten = -math.inf
        self._cut: dict[Budget, Budget] = {}
        self._budgets: dict[str, Budget] = {}
        self._last_read: dict[str, tuple[float, Remaining]] = {}

    def know(self, budget: Budget) -> None:
        """Watch ``budget``: read with every count, its share kept for the fallback."""
        self._budgets[budget.deployment] = budget

    def due(self, at: float) -> list[Budget] | None:
        """The budgets to read with a count made now, or None: counted less than a second ago."""
        return list(self._budgets.values()) if at - self._beaten >= BEAT_EVERY else None

    def beating(self, at: float) -> list[tuple[Any, ...]]:
        """The commands that register this process and count those sharing the store."""
        return [
            ("ZADD", self._key, repr(at), self._id),
            ("ZREMRANGEBYSCORE", self._key, "-inf", repr(at - BUCKET_LIFETIME)),
            ("PEXPIRE", self._key, (BUCKET_LIFETIME + self._margin) * 1000),
            ("ZCARD", self._key),
        ]

    def counted(self, members: Any, reads: dict[str, Remaining], at: float) -> None:
        """Keep what a count found: the processes, and what each watched budget had left."""
        self._beaten = at
        for name, read in reads.items():
            self._last_read[name] = (at, read)
        if isinstance(members, int) and members >= 1 and members != self.members:
            with self._lock:
                self.members, self._cut = members, {}

    def of(self, budget: Budget) -> Budget:
        """``budget`` cut to this process's share: each limit over the processes last counted
        (at least one request and one token)."""
        cut = self._cut.get(budget)
        if cut is None:
            members = self.members

            def part(limit: int | None) -> int | None:
                return None if limit is None else max(1, limit // members)

            cut = dataclasses.replace(budget, rpm=part(budget.rpm), tpm=part(budget.tpm))
            self._cut[budget] = cut
        return cut

    def of_each(self, budgets: Sequence[Budget]) -> list[Budget]:
        return [self.of(budget) for budget in budgets]

    def seed(self, fallback: MemoryBudgetStore, now: float) -> None:
        """Charge ``fallback`` with this process's share of what Redis last counted in the window."""
        members = self.members
        for name, (at, left) in self._last_read.items():
            budget = self._budgets.get(name)
            if budget is None or not 0 <= now - at < BUCKET_LIFETIME:
                continue
            used = [
                0 if limit is None or room is None else max(0, limit - room)
                for limit, room in ((budget.rpm, left.requests), (budget.tpm, left.tokens))
            ]
            fallback.charge(name, -(-used[0] // members), -(-used[1] // members))
