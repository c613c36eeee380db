"""A Redis budget store's share: the processes sharing the store, and this one's part of each budget.

About once a second a store's round trip also registers its process in a sorted set of the
store's (``<prefix>:processes``, scored by when each was last seen; a process unseen for a window
leaves it), counts the processes in it, and reads every budget it has seen. When the store falls
back to this process's memory, the fallback gets each limit over that count, and is first
charged this process's share of what Redis had counted: so the processes that fall back together
take no more than what the window had left, not a whole budget each. The processes still on
Redis leave room for those registered but not seen for ``ABSENT_AFTER`` seconds (their shares,
which their fallbacks may be taking), and back on Redis a store charges there what its fallback
let through in the window, for every process to count. A process that goes idle is held room for
until it leaves the set, a window after its last call: the safe side.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from ...domain.budget import BUCKET_LIFETIME, Budget, Remaining
from .memory import MemoryBudgetStore

__all__ = ["ABSENT_AFTER", "BEAT_EVERY", "Share"]

#: Seconds between two counts of the processes sharing a store.
BEAT_EVERY = 1.0
#: Seconds after which a registered process not seen is taken to be on its fallback.
ABSENT_AFTER = 5.0


class Share:
    """This process among those sharing a store (see the module's docstring); thread-safe."""

    def __init__(self, prefix: str, margin: int) -> None:
        self._key = f"{prefix}:processes"
        self._lifetime = (BUCKET_LIFETIME + margin) * 1000  # milliseconds the set outlives its last write
        self._lock = threading.Lock()
        self.after_fork()

    def after_fork(self) -> None:
        """A process of its own: a new id, nothing counted yet (a forked child too)."""
        self._lock = threading.Lock()
        self._id = uuid.uuid4().hex
        self.members = 1
        self.absent = 0  # registered, not seen for ABSENT_AFTER seconds
        self._held: dict[Budget, Budget] = {}
        self._beaten = -math.inf
        self._cut: dict[Budget, Budget] = {}
        self._budgets: dict[str, Budget] = {}
        self._last_read: dict[str, tuple[float, Remaining]] = {}
        # What Redis knows of the fallback's counts (its seed, what was charged back): when, requests, tokens.
        self._seeded: dict[str, tuple[float, int, int]] = {}

    def know(self, budget: Budget) -> None:
        """Watch ``budget``: read with every count, its share kept for the fallback."""
        self._budgets[budget.deployment] = budget

    def due(self, at: float) -> list[Budget] | None:
        """The budgets to read with a count made now, or None: counted less than a second ago."""
        return list(self._budgets.values()) if at - self._beaten >= BEAT_EVERY else None

    def beating(self, at: float, *, absent: bool = False) -> list[tuple[Any, ...]]:
        """The commands that register this process and count those sharing the store; ``absent``:
        that register it as alive on its fallback (seen ``ABSENT_AFTER`` ago), and count nothing."""
        if absent:
            seen = repr(at - ABSENT_AFTER - 1)
            return [("ZADD", self._key, seen, self._id), ("PEXPIRE", self._key, self._lifetime)]
        return [
            ("ZADD", self._key, repr(at), self._id),
            ("ZREMRANGEBYSCORE", self._key, "-inf", repr(at - BUCKET_LIFETIME)),
            ("PEXPIRE", self._key, self._lifetime),
            ("ZCARD", self._key),
            ("ZCOUNT", self._key, "-inf", repr(at - ABSENT_AFTER)),
        ]

    def counted(self, members: Any, absent: Any, reads: dict[str, Remaining], at: float) -> None:
        """Keep what a count found: the processes (and how many are absent), what each watched
        budget had left."""
        self._beaten = at
        for name, read in reads.items():
            self._last_read[name] = (at, read)
        if not isinstance(members, int) or not isinstance(absent, int) or members < 1:
            return
        if members != self.members or absent != self.absent:
            with self._lock:
                self.members, self.absent, self._cut, self._held = members, absent, {}, {}

    def held(self, budget: Budget) -> Budget:
        """``budget`` as the processes on Redis may use it: less the shares of those absent."""
        if not self.absent:
            return budget
        held = self._held.get(budget)
        if held is None:
            members, absent = self.members, self.absent

            def part(limit: int | None) -> int | None:
                return None if limit is None else max(1, limit - absent * (limit // members))

            held = dataclasses.replace(budget, rpm=part(budget.rpm), tpm=part(budget.tpm))
            self._held[budget] = held
        return held

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
            requests, tokens = -(-used[0] // members), -(-used[1] // members)
            fallback.charge(name, requests, tokens)
            self._known(name, requests, tokens, now)

    def let_through(self, fallback: MemoryBudgetStore, now: float) -> list[tuple[str, int, int]]:
        """What ``fallback`` admitted in the window that Redis does not know of (neither its seed
        nor what was charged back already), by deployment: to charge in Redis; once it answers,
        ``charged_back`` records it."""
        taken = []
        for name, budget in self._budgets.items():
            cut = self.of(budget)
            left = fallback.remaining([cut])[name]
            known = self._seeded.get(name)
            if known is None or not 0 <= now - known[0] < BUCKET_LIFETIME:
                known = (now, 0, 0)
            used = [
                0 if limit is None or room is None else max(0, limit - room - seen)
                for limit, room, seen in (
                    (cut.rpm, left.requests, known[1]),
                    (cut.tpm, left.tokens, known[2]),
                )
            ]
            if used[0] or used[1]:
                taken.append((name, used[0], used[1]))
        return taken

    def charged_back(self, taken: Sequence[tuple[str, int, int]], now: float) -> None:
        """``taken`` (from ``let_through``) is counted in Redis now: never charge it again."""
        for name, requests, tokens in taken:
            self._known(name, requests, tokens, now)

    def _known(self, name: str, requests: int, tokens: int, now: float) -> None:
        """Add to what Redis knows of the fallback's counts on ``name`` (kept for a window)."""
        known = self._seeded.get(name)
        if known is not None and 0 <= now - known[0] < BUCKET_LIFETIME:
            requests, tokens = requests + known[1], tokens + known[2]
        self._seeded[name] = (now, requests, tokens)
