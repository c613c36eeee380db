"""The in-process budget store: one lock, one state per deployment; the default (nothing to run).

``adapters/budget_redis.py`` runs the same rules in Lua; the contract suite holds both to them.

Leases: a caller that reads nothing with its reservation (a router's lane, its steady state) may
be lent room for its next calls, as the Redis store lends it (``adapters/_leasing.py``): counted
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
from dataclasses import dataclass, field

from ...domain.budget import (
    BUCKET_LIFETIME,
    Budget,
    Health,
    Lease,
    RateHint,
    Refusal,
    RefusalReason,
    Remaining,
    Reservation,
    check_tokens,
)
from ...domain.defaults import LEASE_SECONDS
from ...domain.errors import ConfigurationError
from .leasing import LeaseBook

__all__ = ["MemoryBudgetStore"]

#: A hint without a reset holds this long: a sliding window's count is soon out of date.
HINT_SECONDS = 1.0
#: Idle state is forgotten this long after the window (as the Redis keys expire).
MARGIN_SECONDS = 10


@dataclass
class _State:
    buckets: dict[int, list[int]] = field(default_factory=dict)  # second -> [requests, tokens]
    totals: list[int] = field(default_factory=lambda: [0, 0])  # the buckets' sums, kept as they change
    hint_requests: int | None = None
    hint_requests_until: float = 0.0
    hint_tokens: int | None = None
    hint_tokens_until: float = 0.0
    cooling_until: float = 0.0
    failures: int = 0
    ejected: bool = False
    open_until: float = 0.0
    probe_until: float = 0.0
    touched: float = 0.0
    expires: float = math.inf  # when the oldest bucket leaves the window

    def prune(self, now: float) -> None:
        # Buckets are added in time order, so the oldest come first. (A clock that stepped back
        # leaves a bucket behind a newer one: it is kept until the newer goes, on the safe side.)
        if now < self.expires:
            return
        buckets = self.buckets
        while buckets:
            second = next(iter(buckets))
            if second + BUCKET_LIFETIME > now:
                self.expires = second + BUCKET_LIFETIME
                return
            requests, tokens = buckets.pop(second)
            self.totals[0] -= requests
            self.totals[1] -= tokens
        self.expires = math.inf

    def charge(self, second: int, tokens: int, requests: int = 1) -> None:
        """Count ``requests`` and ``tokens`` in the bucket of ``second``."""
        bucket = self.buckets.get(second)
        if bucket is None:
            bucket = self.buckets[second] = [0, 0]
            self.expires = min(self.expires, second + BUCKET_LIFETIME)
        bucket[0] += requests
        bucket[1] += tokens
        self.totals[0] += requests
        self.totals[1] += tokens

    def release(self, second: int, requests: int, tokens: int) -> None:
        """Give back ``requests`` and ``tokens`` counted in the bucket of ``second`` (a lease's room left)."""
        bucket = self.buckets.get(second)
        if bucket is not None:  # a bucket gone from the window needs no correction
            for index, amount in ((0, requests), (1, tokens)):
                after = max(0, bucket[index] - amount)
                self.totals[index] += after - bucket[index]
                bucket[index] = after

    def plenty(self, budget: Budget, tokens: int, lease: int, now: float) -> bool:
        """Whether a call of ``tokens`` just counted leaves every limit, and every live hint, at
        most half used with a lease of ``lease`` more such calls counted too."""
        rpm, tpm, (requests, used) = budget.rpm, budget.tpm, self.totals
        if (rpm is not None and 2 * (requests + lease) > rpm) or (
            tpm is not None and 2 * (used + lease * tokens) > tpm
        ):
            return False
        # A hint is read as it was before the call spent it.
        requests_short = (
            self.hint_requests is not None
            and now < self.hint_requests_until
            and self.hint_requests + 1 < 2 * (1 + lease)
        )
        tokens_short = (
            self.hint_tokens is not None
            and now < self.hint_tokens_until
            and self.hint_tokens + tokens < 2 * tokens * (1 + lease)
        )
        return not (requests_short or tokens_short)

    def health(self, now: float) -> Health:
        if not self.ejected:
            return "closed"
        return "open" if now < self.open_until else "half_open"

    def used(self, index: int) -> int:
        return self.totals[index]

    def window_wait(self, index: int, need: int, limit: int | None, now: float) -> float:
        """Seconds until ``need`` more fits under ``limit`` as old buckets leave the window."""
        if limit is None:
            return 0.0
        if need > limit:
            return math.inf
        excess = self.totals[index] + need - limit
        if excess <= 0:
            return 0.0
        for second in sorted(self.buckets):
            excess -= self.buckets[second][index]
            if excess <= 0:
                return second + BUCKET_LIFETIME - now
        return 0.0

    def hint_wait(self, need_requests: int, need_tokens: int, now: float) -> tuple[float, float]:
        wait_r = wait_t = 0.0
        if self.hint_requests is not None and now < self.hint_requests_until:
            wait_r = self.hint_requests_until - now if self.hint_requests < need_requests else 0.0
        if self.hint_tokens is not None and now < self.hint_tokens_until:
            wait_t = self.hint_tokens_until - now if self.hint_tokens < need_tokens else 0.0
        return wait_r, wait_t

    def assess(self, budget: Budget, tokens: int, now: float) -> tuple[RefusalReason, float] | None:
        """Why ``tokens`` (and one request) cannot go now and for how long; None when they can."""
        if self.fits(budget, tokens, now):
            return None
        if self.cooling_until > now:
            return "cooling", self.cooling_until - now
        health = self.health(now)
        if health == "open":
            return "ejected", self.open_until - now
        if health == "half_open" and self.probe_until > now:
            return "probing", self.probe_until - now
        hint_r, hint_t = self.hint_wait(1, tokens, now)
        wait_r = max(self.window_wait(0, 1, budget.rpm, now), hint_r)
        wait_t = max(self.window_wait(1, tokens, budget.tpm, now), hint_t)
        if wait_r <= 0 and wait_t <= 0:
            return None
        return ("tokens", wait_t) if wait_t >= wait_r else ("requests", wait_r)

    def fits(self, budget: Budget, tokens: int, now: float) -> bool:
        """The common case, told at once: serving, and room under every limit and live hint."""
        rpm, tpm, totals = budget.rpm, budget.tpm, self.totals
        return (
            self.cooling_until <= now
            and not self.ejected
            and (rpm is None or totals[0] < rpm)
            and (tpm is None or totals[1] + tokens <= tpm)
            and (self.hint_requests is None or self.hint_requests >= 1 or now >= self.hint_requests_until)
            and (self.hint_tokens is None or self.hint_tokens >= tokens or now >= self.hint_tokens_until)
        )

    def take_hint(self, hint: RateHint | None, now: float) -> None:
        if hint is None:
            return
        if hint.remaining_requests is not None:
            self.hint_requests = hint.remaining_requests
            reset = hint.reset_requests if hint.reset_requests is not None else HINT_SECONDS
            self.hint_requests_until = now + reset
        if hint.remaining_tokens is not None:
            self.hint_tokens = hint.remaining_tokens
            reset = hint.reset_tokens if hint.reset_tokens is not None else HINT_SECONDS
            self.hint_tokens_until = now + reset

    def adjust_tokens(self, second: int, delta: int) -> None:
        bucket = self.buckets.get(second)
        if bucket is not None:  # a bucket gone from the window needs no correction
            after = max(0, bucket[1] + delta)
            self.totals[1] += after - bucket[1]
            bucket[1] = after

    def idle(self, now: float) -> bool:
        self.prune(now)
        markers = (self.cooling_until, self.open_until, self.probe_until)
        return (
            not self.buckets
            and all(marker <= now for marker in markers)
            and now - self.touched > BUCKET_LIFETIME + MARGIN_SECONDS
        )


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
        if not (
            isinstance(lease_seconds, (int, float)) and math.isfinite(lease_seconds) and lease_seconds >= 0
        ):
            raise ConfigurationError("lease_seconds must be seconds >= 0")
        self.clock = clock
        self._lock = threading.Lock()
        self._book = LeaseBook(float(lease_seconds))
        self._states: dict[str, _State] = {}
        self._swept = 0.0

    def __repr__(self) -> str:
        return f"MemoryBudgetStore(deployments={len(self._states)})"

    def _state(self, deployment: str, now: float) -> _State:
        if now - self._swept >= 1.0:  # forget idle deployments, at most once a second
            self._swept = now
            for name in [name for name, state in self._states.items() if state.idle(now)]:
                del self._states[name]
        state = self._states.get(deployment)
        if state is None:
            state = self._states[deployment] = _State()
        state.prune(now)
        state.touched = now
        lease = self._book.open.get(deployment)
        if lease is not None:  # what the calls taken from it settled counts from now on
            if lease.until <= now:
                self._give_back(state, self._book.open.pop(deployment), now)
            elif lease.charged or lease.refunded or lease.hint is not None:
                self._collect(state, lease, now)
        return state

    def _give_back(self, state: _State, lease: Lease, now: float) -> None:
        """Close ``lease``: its room left goes back to the window, its calls' settlements count."""
        left = lease.close()
        if left is not None:
            state.release(lease.second, *left)
        self._collect(state, lease, now)

    def _collect(self, state: _State, lease: Lease, now: float) -> None:
        charged, refunded, hint = lease.collect()
        state.adjust_tokens(lease.second, charged)  # a charge, then a refund: neither is cut to 0
        state.adjust_tokens(lease.second, refunded)
        state.take_hint(hint, now)

    def _drop(self, deployment: str, state: _State, now: float) -> None:
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
        if state.hint_requests is not None and now < state.hint_requests_until:
            requests = state.hint_requests if requests is None else min(requests, state.hint_requests)
        if state.hint_tokens is not None and now < state.hint_tokens_until:
            tokens = state.hint_tokens if tokens is None else min(tokens, state.hint_tokens)
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
