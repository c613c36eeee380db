"""The in-process budget store: one lock, one state per deployment; the default (nothing to run).

``adapters/budget_redis.py`` runs the same rules in Lua; the contract suite holds both to them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..domain.budget import (
    BUCKET_LIFETIME,
    Budget,
    Health,
    RateHint,
    Refusal,
    RefusalReason,
    Remaining,
    Reservation,
    check_tokens,
)

__all__ = ["MemoryBudgetStore"]

#: A hint without a reset holds this long: a sliding window's count is soon out of date.
HINT_SECONDS = 1.0
#: Idle state is forgotten this long after the window (as the Redis keys expire).
MARGIN_SECONDS = 10
#: How old the other deployments' part of a view ``reserve_and_read`` answers with may be, while
#: only calls' own reservations and settlements happened since: in this process a deployment's
#: count changes by its own reservations, and the one reserved is read afresh each time.
VIEW_SECONDS = 0.25


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

    def charge(self, second: int, tokens: int) -> None:
        """Count one request and ``tokens`` in the bucket of ``second``."""
        bucket = self.buckets.get(second)
        if bucket is None:
            bucket = self.buckets[second] = [0, 0]
            self.expires = min(self.expires, second + BUCKET_LIFETIME)
        bucket[0] += 1
        bucket[1] += tokens
        self.totals[0] += 1
        self.totals[1] += tokens

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
    """

    origin = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}
        self._swept = 0.0
        # Views read by reserve_and_read: by the id of the budgets' sequence, with it and when.
        self._views: dict[int, tuple[Sequence[Budget], float, dict[str, Remaining]]] = {}

    def __repr__(self) -> str:
        return f"MemoryBudgetStore(deployments={len(self._states)})"

    def _state(self, deployment: str, now: float) -> _State:
        if now - self._swept >= 1.0:  # forget idle deployments, at most once a second
            self._swept = now
            for name in [name for name, state in self._states.items() if state.idle(now)]:
                del self._states[name]
                self._views.clear()
        state = self._states.get(deployment)
        if state is None:
            state = self._states[deployment] = _State()
        state.prune(now)
        state.touched = now
        return state

    def reserve(self, budget: Budget, tokens: int) -> Reservation | Refusal:
        check_tokens(tokens)
        with self._lock:
            return self._reserve(budget, tokens, self.clock())

    def _reserve(self, budget: Budget, tokens: int, now: float) -> Reservation | Refusal:
        state = self._state(budget.deployment, now)
        refused = state.assess(budget, tokens, now)
        if refused is not None:
            self._views.clear()  # they said there was room
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
            if state.failures or state.ejected or state.probe_until:
                self._views.clear()  # its health changes
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
            self._views.clear()
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
            state = self._state(deployment, self.clock())
            self._views.clear()
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
            answer = self._reserve(budget, tokens, now)
            if not budgets:
                return answer, {}
            kept = self._views.get(id(budgets))
            name = budget.deployment
            if kept is not None and kept[0] is budgets and 0 <= now - kept[1] <= VIEW_SECONDS:
                view = dict(kept[2])
                if name in view:
                    view[name] = self._remaining(budget, now)
                return answer, view
            view = {b.deployment: self._remaining(b, now) for b in budgets}
            if len(self._views) >= 8:  # callers that pass a new sequence each time
                self._views.clear()
            self._views[id(budgets)] = (budgets, now, view)
            return answer, view

    def after_fork(self) -> None:
        """In a forked child: a new lock (a parent thread may have held it); the counts stay."""
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing to release; here so that either store can be closed alike."""
