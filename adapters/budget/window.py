"""One deployment's budget state in memory: its window of one-second buckets, the provider's hint,
its cooldown and its circuit (the in-process store keeps one per deployment; the Redis store's Lua
keeps the same in Redis, and its fallback is an in-process store)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...domain.budget import BUCKET_LIFETIME, Budget, Health, RateHint, RefusalReason

__all__ = ["HINT_SECONDS", "MARGIN_SECONDS", "DeploymentState"]

#: A hint without a reset holds this long: a sliding window's count is soon out of date.
HINT_SECONDS = 1.0
#: Idle state is forgotten this long after the window (as the Redis keys expire).
MARGIN_SECONDS = 10


@dataclass
class DeploymentState:
    """One deployment's window of buckets, the provider's hint, its cooldown and its circuit."""

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

    def capped(self, requests: int | None, tokens: int | None, now: float) -> tuple[int | None, int | None]:
        """``requests`` and ``tokens`` left (None: no limit), capped by the provider's live hints."""
        if self.hint_requests is not None and now < self.hint_requests_until:
            requests = self.hint_requests if requests is None else min(requests, self.hint_requests)
        if self.hint_tokens is not None and now < self.hint_tokens_until:
            tokens = self.hint_tokens if tokens is None else min(tokens, self.hint_tokens)
        return requests, tokens

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
