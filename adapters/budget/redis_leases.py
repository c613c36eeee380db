"""The Redis store's leases: the room it lent itself, what its round trips read while it held some,
and the settlements waiting to go to Redis with its next request.

Leases: a router's steady state needs no round trip per call. When ``reserve_and_read`` finds a
healthy deployment with plenty of room (with the call and the lease counted, at most half of each
limit used, and of the provider's hint while one holds), the same script grants this store a
lease: room for a few more calls like this one (at most 1/32 of each limit, at most
``LEASE_MAX_CALLS``, sized by how fast this process used its last lease), charged in Redis at once
to the bucket of the second the lease ends in, so that it counts at least as long as every call
made under it. Until it ends (``lease_seconds``, 0.25 s) the next calls on that deployment take
from it without asking Redis, and get the budgets that round trip read (at most
``lease_seconds`` old, the leases' room then added) as the very same mapping, so that a router
knows it for the old read it is. The round trip after it ends gives back what it left unused. Near
the limits there are no leases: every call is reserved exactly, as without them. All processes
together never get more than the limits: a lease is room already counted in Redis. A cooldown,
an ejection or a failure seen by any round trip (this store's ``fail``/``cool_down``, or a read
showing the deployment not serving) ends the deployment's lease, so another process's cooldown
stops this one's calls within one lease lifetime; a half-open probe never comes from a lease.
``reserve`` (no read, no steady state) never leases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...domain.budget import Budget, Lease, RateHint, Remaining, newest_hint
from .leasing import LeaseBook
from .redis_commands import Command, hint_args

__all__ = ["LeaseLedger"]


class LeaseLedger:
    """A Redis store's open leases and the commands waiting for its next request.

    Not locked: the store holds its lock around every method, except where it reads ``open``
    (a dict read, atomic) on its steady path.

    Args:
        seconds: how long a lease lasts; 0 for no leases.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._book = LeaseBook(seconds)
        self.open = self._book.open  #: the open leases, by deployment
        self._pending: list[Command] = []  # leases' releases waiting for the next request
        # Replies' settlements waiting for the next request: one per deployment, bucket and sign
        # (the sum of their token differences), and the newest hint of each deployment.
        self.settling: dict[tuple[str, int, bool], int] = {}
        self._hints: dict[str, RateHint] = {}
        # What the last round trips read while this store held a lease: the budgets read, when,
        # and the view; by the id of the budgets' sequence (a router's, for chat or embeddings).
        self._views: dict[int, tuple[Sequence[Budget], float, dict[str, Remaining]]] = {}

    def view(self, budgets: Sequence[Budget], now: float) -> dict[str, Remaining] | None:
        """What the last round trip read of ``budgets`` while this store held a lease, if lately."""
        kept = self._views.get(id(budgets))  # a router passes the same sequence each time
        if kept is None or kept[0] is not budgets:  # not this very sequence: one with its names?
            names = _names(budgets)
            kept = next((each for each in self._views.values() if _names(each[0]) == names), None)
        if kept is None or not 0 <= now - kept[1] <= self.seconds:
            return None  # these budgets were not read lately: read them all
        return kept[2]

    def begin(self, budget: Budget, tokens: int, now: float) -> tuple[int, int]:
        """Before a reservation that may lease: end the deployment's lease; the calls to ask for
        and the second a new lease would end in (``LeaseBook.ending``)."""
        old, want, second = self._book.ending(budget, tokens, now)
        if old is not None:
            self.release(budget.deployment, old)
        return want, second

    def granted(
        self, budget: Budget, tokens: int, answer: Any, *, second: int, now: float, origin: str
    ) -> Lease | None:
        """The lease a ``reserving`` answer granted (calls like this one of ``tokens``), if any."""
        calls = int(answer[3]) if int(answer[0]) == 1 else 0
        if not calls:
            return None
        until = now + self.seconds
        return Lease(budget, second=second, until=until, calls=calls, tokens=calls * tokens, origin=origin)

    def install(self, lease: Lease) -> None:
        """Hold the lease Redis granted (another thread's round trip got one too: keep the newer)."""
        replaced = self._book.install(lease)
        if replaced is not None:
            self.release(lease.budget.deployment, replaced)

    def release(self, name: str, lease: Lease) -> None:
        """Close ``lease``: what it left unused, and its calls' settlements, go with the next request."""
        left = lease.close()
        if left is None:
            return
        requests, tokens = left
        if requests > 0 or tokens > 0:
            self._pending.append(("release", name, (lease.second, requests, tokens)))
        self._collect(name, lease)

    def _collect(self, name: str, lease: Lease) -> None:
        """Move the settlements ``lease`` kept to those sent with the next request."""
        charged, refunded, hint = lease.collect()
        if refunded:
            self.settle_later(name, lease.second, refunded, hint)
        if charged or (hint is not None and not refunded):
            self.settle_later(name, lease.second, charged, hint)

    def settle_later(self, name: str, second: int, delta: int, hint: RateHint | None) -> None:
        """Add a settlement to those sent with the next request (a charge and a refund apart)."""
        key = (name, second, delta < 0)
        self.settling[key] = self.settling.get(key, 0) + delta
        if hint is not None:
            self._hints[name] = newest_hint(self._hints.get(name), hint)

    def drop(self, name: str) -> None:
        """End the deployment's lease, if any: its calls go exact again."""
        lease = self._book.pop(name)
        if lease is not None:
            self.release(name, lease)
            self._views.clear()  # they show its room: the next call reads afresh

    def drop_if_short(self, name: str, hint: RateHint) -> None:
        """End the deployment's lease if the provider says room is short (``Lease.short``)."""
        lease = self.open.get(name)
        if lease is not None and lease.short(hint):
            self.drop(name)

    def forget_views(self) -> None:
        """What the last round trips read is no longer so (a failure): the next call reads afresh."""
        self._views.clear()

    def abandon(self) -> None:
        """Redis failed: the leases cannot be given back now. Their room stays counted (the safe
        side), and nobody holding one may take from it any more."""
        for lease in self._book.clear():
            lease.close()
        self._views.clear()

    def drop_all(self) -> None:
        """End every lease (closing the store): what they left goes with the next request."""
        for name in list(self.open):
            self.drop(name)

    def read(self, read: dict[str, Remaining], now: float, budgets: Sequence[Budget]) -> dict[str, Remaining]:
        """End the leases of deployments not serving; add the leases' room to what Redis said.

        While this store holds a lease, calls from it answer with this view (``view``).
        """
        names = _names(budgets)
        self._views = {key: kept for key, kept in self._views.items() if _names(kept[0]) != names}
        view = {}
        for name, left in read.items():
            lease = self.open.get(name)
            if lease is not None and (left.health != "closed" or left.wait > 0):
                self.drop(name)  # cooling, ejected or full, as another process may have seen
            elif lease is not None and lease.until > now:
                left = _plus(left, lease)  # noqa: PLW2901 - the read, as this store sees it
            view[name] = left
        if self.open:
            self._views[id(budgets)] = (budgets, now, view)
        return view

    def waiting(self) -> bool:
        """Whether anything waits for the next request (releases, settlements, leases' settlements)."""
        return bool(self._pending or self.settling) or any(
            lease.charged or lease.refunded or lease.hint is not None for lease in self.open.values()
        )

    def take_waiting(self) -> list[Command]:
        """What the next request sends first: the open leases' calls' settlements, the replies'
        settlements, then the leases' releases; none wait after it."""
        for name, lease in self.open.items():
            self._collect(name, lease)
        hints = self._hints
        commands: list[Command] = [
            ("reconcile", name, (second, delta, *hint_args(hints.pop(name, None))))
            for (name, second, _), delta in self.settling.items()
        ]
        commands += self._pending
        self.settling, self._hints, self._pending = {}, {}, []
        return commands


def _names(budgets: Sequence[Budget]) -> list[str]:
    return [budget.deployment for budget in budgets]


def _plus(left: Remaining, lease: Lease) -> Remaining:
    """``left`` as this store sees it: its lease's room left is room it has."""
    return Remaining(
        left.deployment,
        None if left.requests is None else left.requests + lease.requests,
        None if left.tokens is None else left.tokens + lease.tokens,
        left.health,
        left.wait,
    )
