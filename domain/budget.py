"""The budget store's values: per-deployment rate budgets, cooldowns and ejection (the port,
``BudgetStore``, is in ``ports.py``; the provider's rate-limit headers are read in the adapters).

A deployment's budget is its requests-per-minute and tokens-per-minute limits, counted over a
sliding window of 60 one-second buckets. Why buckets and not a fixed minute: a fixed window lets
a client send its whole quota at 12:00:59 and again at 12:01:00, twice the limit within two
seconds, and Azure (which evaluates its limits over short sliding intervals) answers the second
burst with 429s. A log of every request would be exact but grows with the traffic, and in Redis
every check would walk it; buckets bound the state of a deployment to 61 counters. The error is
on the safe side: a bucket leaves the window 61 s after its second began (``BUCKET_LIFETIME``),
so the store may hold room back for up to one second too long, never give it back too early
(a provider counting an exact sliding minute would answer that with a 429).

Time is the store's injected ``clock`` (seconds, the same epoch in every process that shares a
store: ``time.time`` by default). A call that finds no room is refused with how long to wait.

The lifecycle of one call, as a router drives it::

    answer = store.reserve(budget, estimated_tokens)      # Reservation, or Refusal(wait=...)
    ... send ...
    store.reconcile(answer, used_tokens, hint)              # a reply came: charge the difference
    store.fail(answer, cool_until=..., hint=...)            # or it failed: tokens refunded, maybe ejected

A steady caller may be lent room for its next calls (``Lease``): taken and settled without the
store, which gets back what was left, and the settlements, when the lease ends.

Ejection: ``eject_after`` consecutive failures open a deployment's circuit for ``eject_for``
seconds; after that it is half-open and ``reserve`` grants exactly one caller the probe
(``Reservation.probe``); the probe's success closes the circuit, its failure opens it again. A
probe never settled (its process died) is given up after ``probe_timeout`` seconds.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Literal

from .errors import ConfigurationError, ValidationError

__all__ = [
    "BUCKET_LIFETIME",
    "WINDOW_SECONDS",
    "Budget",
    "Health",
    "Lease",
    "RateHint",
    "Refusal",
    "RefusalReason",
    "Remaining",
    "Reservation",
    "check_tokens",
    "newest_hint",
]

#: The length of the sliding window the limits are per.
WINDOW_SECONDS = 60
#: How long a one-second bucket counts: the window plus the second the bucket spans.
BUCKET_LIFETIME = WINDOW_SECONDS + 1

#: ``closed``: serving; ``open``: ejected until ``Remaining.wait``; ``half_open``: one probe may go.
Health = Literal["closed", "open", "half_open"]
#: Why a reservation was refused: out of requests or tokens (local count or the provider's hint),
#: cooling down after a 429, ejected, or half-open with the probe already out.
RefusalReason = Literal["requests", "tokens", "cooling", "ejected", "probing"]


@dataclass(frozen=True, slots=True)
class Budget:
    """One deployment's limits and ejection policy; every process sharing a store must agree on them.

    Args:
        deployment: the deployment's id; it names the keys the store keeps.
        rpm: requests per minute, or None for no limit.
        tpm: tokens per minute, or None for no limit.
        eject_after: consecutive failures that eject the deployment.
        eject_for: seconds an ejection lasts before the half-open probe.
        probe_timeout: seconds after which an unsettled probe is given up and another may go.
        key: what the provider limits, where a shared store keeps this budget (its cooldown and
            ejection too): e.g. the endpoint and the deployment, so that two apps on one real
            deployment share it and two on different ones never do; None: ``deployment``.

    Raises:
        ConfigurationError: a blank id or key, a limit below 1, or a non-positive duration.
    """

    deployment: str
    rpm: int | None = None
    tpm: int | None = None
    eject_after: int = 3
    eject_for: float = 30.0
    probe_timeout: float = 30.0
    key: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.deployment, str) or not self.deployment.strip():
            raise ConfigurationError("Budget.deployment must be a non-blank string")
        if self.key is not None and (not isinstance(self.key, str) or not self.key.strip()):
            raise ConfigurationError(f"Budget.key of {self.deployment!r} must be a non-blank string or None")
        for name in ("rpm", "tpm", "eject_after"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"Budget.{name} of {self.deployment!r} must be an integer >= 1")
        for name in ("eject_for", "probe_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigurationError(f"Budget.{name} of {self.deployment!r} must be seconds > 0")


@dataclass(frozen=True, slots=True)
class Reservation:
    """Room taken for one call: one request and ``tokens`` in the bucket of second ``second``.

    ``probe`` is True for the one call let through a half-open deployment. ``origin`` is the
    adapter's own mark (e.g. a Redis store's local fallback), opaque to everyone else.
    """

    budget: Budget
    tokens: int
    second: int
    probe: bool = False
    origin: str = ""
    #: The room the store lent with this reservation, or took it from: the next calls on the
    #: deployment may take from it without asking the store (see ``Lease``).
    lease: Lease | None = field(default=None, repr=False, compare=False)

    @property
    def deployment(self) -> str:
        return self.budget.deployment


@dataclass(frozen=True, slots=True)
class Refusal:
    """No room now: ``wait`` seconds until there is (``math.inf``: the call can never fit)."""

    deployment: str
    reason: RefusalReason
    wait: float


@dataclass(frozen=True, slots=True)
class Remaining:
    """What a deployment can take now: requests and tokens left in the window (None: no limit),
    its health, and ``wait``: seconds until it serves again (0 when it serves now)."""

    deployment: str
    requests: int | None
    tokens: int | None
    health: Health
    wait: float


@dataclass(frozen=True, slots=True)
class RateHint:
    """The provider's own count, from ``x-ratelimit-remaining-*`` and ``x-ratelimit-reset-*``.

    Until its reset (seconds from when it was read; 1 s when the provider gave none, since a
    sliding window moves on), a hint caps what the store grants: the remaining count is spent
    by each reservation. A newer hint replaces an older one.
    """

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests: float | None = None
    reset_tokens: float | None = None


def newest_hint(older: RateHint | None, newer: RateHint) -> RateHint:
    """The newest count of each kind (requests, tokens) of two hints, ``newer`` the later."""
    if older is None or (newer.remaining_requests is not None and newer.remaining_tokens is not None):
        return newer
    requests = newer if newer.remaining_requests is not None else older
    tokens = newer if newer.remaining_tokens is not None else older
    return RateHint(
        requests.remaining_requests, tokens.remaining_tokens, requests.reset_requests, tokens.reset_tokens
    )


class Lease:
    """Room a store lent this process on one deployment, for calls to take without asking it.

    The store counted the room already, in the bucket of ``second`` (which outlives every call
    made under the lease). Each call takes one request and its tokens (``take``) until ``until``
    on the store's clock; its reply's settlement and rate hint are kept here (``settle``). The
    store closes a lease when it has expired or run out, on a failure or a cooldown, or when a
    read shows the deployment not serving: it then gives back the room left and sends the
    settlements with its next request. A hint saying the provider has less left than twice the
    room held ends the lending at once. A closed lease lends and settles nothing. Thread-safe.
    """

    __slots__ = (
        "_lock",
        "budget",
        "calls",
        "charged",
        "closed",
        "cut",
        "hint",
        "origin",
        "refunded",
        "requests",
        "second",
        "tokens",
        "until",
    )

    def __init__(
        self, budget: Budget, *, second: int, until: float, calls: int, tokens: int, origin: str
    ) -> None:
        self._lock = threading.Lock()
        self.budget = budget
        self.second = second
        self.until = until
        self.origin = origin
        self.calls = calls  #: requests lent
        self.requests = calls  #: requests left
        self.tokens = tokens  #: tokens left
        self.charged = 0  #: the settlements that charge more than was taken, summed
        self.refunded = 0  #: and those that give some back (<= 0)
        self.hint: RateHint | None = None
        self.cut = False  #: a hint said room is short: it lends no more
        self.closed = False

    def __repr__(self) -> str:
        return (
            f"Lease({self.budget.deployment!r}, requests={self.requests}/{self.calls}, "
            f"tokens={self.tokens}, closed={self.closed})"
        )

    def take(self, tokens: int, now: float) -> bool:
        """Take one request and ``tokens`` for a call at ``now``; False when the lease cannot."""
        with self._lock:
            if now < self.until and self.requests > 0 and self.tokens >= tokens:
                self.requests -= 1
                self.tokens -= tokens
                return True
            return False

    def reservation(self, tokens: int) -> Reservation:
        """What a call that took ``tokens`` from it reserved (to fail it, or settle it with the store)."""
        return Reservation(self.budget, tokens, self.second, False, self.origin, self)

    def settle(self, delta: int, hint: RateHint | None = None) -> bool:
        """Keep a reply's settlement (tokens used minus taken) and hint; False once closed."""
        with self._lock:
            if self.closed:
                return False
            if delta > 0:
                self.charged += delta
            elif delta < 0:
                self.refunded += delta
            if hint is not None:
                self.hint = newest_hint(self.hint, hint)
                if self.short(hint):
                    self.cut, self.until = True, -math.inf
            return True

    def short(self, hint: RateHint) -> bool:
        """Whether ``hint`` leaves the provider less than twice the room this lease holds."""
        requests, tokens = hint.remaining_requests, hint.remaining_tokens
        return (requests is not None and requests < 2 * self.requests) or (
            tokens is not None and tokens < 2 * self.tokens
        )

    def collect(self) -> tuple[int, int, RateHint | None]:
        """Take the settlements kept so far (charged, refunded) and the newest hint, for the store."""
        with self._lock:
            kept = self.charged, self.refunded, self.hint
            self.charged, self.refunded, self.hint = 0, 0, None
            return kept

    def close(self) -> tuple[int, int] | None:
        """Lend and settle nothing more: the requests and tokens left (None: closed already).

        The store collects the settlements kept after it (``collect``)."""
        with self._lock:
            if self.closed:
                return None
            self.closed, self.until = True, -math.inf
            return self.requests, self.tokens


def check_tokens(tokens: int) -> None:
    """Raise ValidationError unless ``tokens`` is an integer >= 0 (the adapters share this check)."""
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise ValidationError(f"tokens must be an integer >= 0, not {tokens!r}")
