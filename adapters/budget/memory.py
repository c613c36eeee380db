"""The in-process budget store: one lock, one state per deployment; the default (nothing to run).

``redis_store.py`` runs the same rules in Lua; the contract suite holds both to them. Each
deployment's state (its window, hint, cooldown and circuit) is a ``window.DeploymentState``.

Leases: a caller that reads nothing with its reservation (a router's lane, its steady state) may
be lent room for its next calls, as the Redis store lends it (``leasing.py``): counted
in the window at once, in the bucket of the second the lease ends in, granted only to a healthy
deployment with no failure counted whose every limit (and the provider's hint while it holds)
stays at most half used with the call and the lease counted. The calls taken from it touch no
state of this store; what it left and their settlements come back when it ends (the next
reservation on the deployment, any read of it, a failure or a cooldown). Reservations with a
read (a router's plan) never take from a lease: they are exact, as the spread over a priority
group needs.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

from ...domain.budget import (
    Budget,
    Health,
    Lease,
    RateHint,
    Refusal,
    Remaining,
    Reservation,
    check_tokens,
)
from ...domain.defaults import LEASE_SECONDS
from .leasing import LeaseBook, checked_lease_seconds
from .window import DeploymentState

__all__ = ["MemoryBudgetStore"]


class MemoryBudgetStore:
    """Budgets in this process only, safe across threads.

    Args:
        clock: seconds on the epoch every user of the store shares (default ``time.time``).
        lease_seconds: how long a lease lasts (see the module's docstring); 0 for no leases.

    Raises:
        ConfigurationError: ``lease_seconds`` is not a number of seconds >= 0.
    """

    origin = "memory"

    def __init__(
        self, *, clock: Callable[[], float] = time.time, lease_seconds: float = LEASE_SECONDS
    ) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._book = LeaseBook(checked_lease_seconds(lease_seconds))
        self._states: dict[str, DeploymentState] = {}
        self._swept = 0.0

    def __repr__(self) -> str:
        return f"MemoryBudgetStore(deployments={len(self._states)})"

    def _state(self, deployment: str, now: float) -> DeploymentState:
        if now - self._swept >= 1.0:  # forget idle deployments, at most once a second
            self._swept = now
            for name in [name for name, state in self._states.items() if state.idle(now)]:
                del self._states[name]
        state = self._states.get(deployment)
        if state is None:
            state = self._states[deployment] = DeploymentState()
        state.prune(now)
        state.touched = now
        lease = self._book.open.get(deployment)
        if lease is not None:  # what the calls taken from it settled counts from now on
            if lease.until <= now:
                self._give_back(state, self._book.open.pop(deployment), now)
            elif lease.charged or lease.refunded or lease.hint is not None:
                self._collect(state, lease, now)
        return state

    def _give_back(self, state: DeploymentState, lease: Lease, now: float) -> None:
        """Close ``lease``: its room left goes back to the window, its calls' settlements count."""
        left = lease.close()
        if left is not None:
            state.release(lease.second, *left)
        self._collect(state, lease, now)

    def _collect(self, state: DeploymentState, lease: Lease, now: float) -> None:
        charged, refunded, hint = lease.collect()
        state.adjust_tokens(lease.second, charged)  # a charge, then a refund: neither is cut to 0
        state.adjust_tokens(lease.second, refunded)
        state.take_hint(hint, now)

    def _drop(self, deployment: str, state: DeploymentState, now: float) -> None:
        """End the deployment's lease (a failure, a cooldown): calls on it are reserved exactly again."""
        lease = self._book.pop(deployment)
        if lease is not None:
            self._give_back(state, lease, now)

    def reserve(self, budget: Budget, tokens: int) -> Reservation | Refusal:
        check_tokens(tokens)
        with self._lock:
            return self._reserve(budget, tokens, self.clock())

    def charge(self, deployment: str, requests: int, tokens: int) -> None:
        """Count ``requests`` and ``tokens`` as taken now on ``deployment`` (room used elsewhere:
        a Redis store's share of what its processes used, when it falls back to this store)."""
        if requests > 0 or tokens > 0:
            with self._lock:
                now = self.clock()
                self._state(deployment, now).charge(math.floor(now), max(tokens, 0), max(requests, 0))

    def _lending(self, budget: Budget, tokens: int, now: float) -> Reservation | Refusal:
        """Reserve exactly, ending the deployment's lease first; lend a new one when there is plenty."""
        name = budget.deployment
        old, want, second = self._book.ending(budget, tokens, now)
        if old is not None:
            self._give_back(self._state(name, now), old, now)
        answer = self._reserve(budget, tokens, now)
        if not want or not isinstance(answer, Reservation) or answer.probe:
            return answer
        state = self._states[name]
        if state.failures or not state.plenty(budget, tokens, want, now):
            return answer
        state.charge(second, want * tokens, want)
        if state.hint_requests is not None:
            state.hint_requests -= want
        if state.hint_tokens is not None:
            state.hint_tokens -= want * tokens
        until = now + self._book.seconds
        lease = Lease(
            budget, second=second, until=until, calls=want, tokens=want * tokens, origin=self.origin
        )
        self._book.install(lease)  # the lock held since ending(): no other to replace
        return Reservation(budget, tokens, answer.second, False, self.origin, lease)

    def _reserve(self, budget: Budget, tokens: int, now: float) -> Reservation | Refusal:
        state = self._state(budget.deployment, now)
        refused = state.assess(budget, tokens, now)
        if refused is not None:
            return Refusal(budget.deployment, refused[0], max(refused[1], 0.0))
        second = math.floor(now)
        state.charge(second, tokens)
        if state.hint_requests is not None:
            state.hint_requests -= 1
        if state.hint_tokens is not None:
            state.hint_tokens -= tokens
        probe = state.ejected and state.health(now) == "half_open"
        if probe:
            state.probe_until = now + budget.probe_timeout
        return Reservation(budget, tokens, second, probe, self.origin)

    def reconcile(self, reservation: Reservation, used_tokens: int, hint: RateHint | None = None) -> None:
        if type(used_tokens) is not int or used_tokens < 0:
            check_tokens(used_tokens)
        with self._lock:
            now = self.clock()
            state = self._state(reservation.deployment, now)
            state.adjust_tokens(reservation.second, used_tokens - reservation.tokens)
            if hint is not None:
                state.take_hint(hint, now)
                lease = self._book.open.get(reservation.deployment)
                if lease is not None and lease.short(hint):
                    self._drop(reservation.deployment, state, now)  # room is short: go exact
            state.failures = 0
            state.ejected = False
            state.probe_until = 0.0

    def fail(
        self,
        reservation: Reservation,
        *,
        cool_until: float | None = None,
        hint: RateHint | None = None,
        counts: bool = True,
    ) -> Health:
        budget = reservation.budget
        with self._lock:
            now = self.clock()
            state = self._state(budget.deployment, now)
            self._drop(budget.deployment, state, now)  # a failure ends the lease: calls go exact again
            state.adjust_tokens(reservation.second, -reservation.tokens)
            state.take_hint(hint, now)
            if cool_until is not None:
                state.cooling_until = max(state.cooling_until, cool_until)
            if reservation.probe:
                state.probe_until = 0.0
            if counts:
                state.failures += 1
                if reservation.probe or (not state.ejected and state.failures >= budget.eject_after):
                    state.ejected = True
                    state.open_until = now + budget.eject_for
            return state.health(now)

    def cool_down(self, deployment: str, until: float) -> None:
        with self._lock:
            now = self.clock()
            state = self._state(deployment, now)
            self._drop(deployment, state, now)
            state.cooling_until = max(state.cooling_until, until)

    def remaining(self, budgets: Sequence[Budget]) -> dict[str, Remaining]:
        with self._lock:
            now = self.clock()
            return {budget.deployment: self._remaining(budget, now) for budget in budgets}

    def _remaining(self, budget: Budget, now: float) -> Remaining:
        state = self._state(budget.deployment, now)
        refused = state.assess(budget, 0, now)
        requests = None if budget.rpm is None else budget.rpm - state.used(0)
        tokens = None if budget.tpm is None else budget.tpm - state.used(1)
        lease = self._book.open.get(budget.deployment)
        if lease is not None and lease.until > now:  # room lent to this process is room it has
            requests = None if requests is None else requests + lease.requests
            tokens = None if tokens is None else tokens + lease.tokens
        requests, tokens = state.capped(requests, tokens, now)
        return Remaining(
            budget.deployment,
            requests=None if requests is None else max(requests, 0),
            tokens=None if tokens is None else max(tokens, 0),
            health=state.health(now),
            wait=0.0 if refused is None else max(refused[1], 0.0),
        )

    def reserve_and_read(
        self, budget: Budget, tokens: int, budgets: Sequence[Budget]
    ) -> tuple[Reservation | Refusal, dict[str, Remaining]]:
        if type(tokens) is not int or tokens < 0:
            check_tokens(tokens)
        with self._lock:  # one pass under the lock: what is read counts the reservation
            now = self.clock()
            if not budgets:  # a caller that reads nothing (a router's lane) may be lent room
                return self._lending(budget, tokens, now), {}
            answer = self._reserve(budget, tokens, now)
            return answer, {b.deployment: self._remaining(b, now) for b in budgets}

    def after_fork(self) -> None:
        """In a forked child: a new lock (a parent thread may have held it); the counts stay.

        The leases are the parent's: their room left goes back to this copy of the counts (read
        without their locks, which a parent thread may have held; the child has one thread now).
        """
        self._lock = threading.Lock()
        for lease in self._book.clear():
            state = self._states.get(lease.budget.deployment)
            if state is not None:
                state.release(lease.second, lease.requests, lease.tokens)

    def close(self) -> None:
        """Give back what the leases left (there is nothing else to release)."""
        with self._lock:
            now = self.clock()
            for lease in self._book.clear():
                self._give_back(self._state(lease.budget.deployment, now), lease, now)
