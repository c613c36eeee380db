"""The Redis budget store: one view of every deployment's budget for all processes and hosts.

Each call is one Lua script (EVALSHA), so a reservation is atomic and one round trip; reading
several deployments is one pipelined round trip. Keys are ``<prefix>:{<key>}:w`` (the
window's buckets) and ``:s`` (cooldown, hints, failures, ejection, probe), ``<key>`` being what
the provider limits (``Budget.key``: the endpoint and the deployment) or else the deployment's
name; both expire by themselves, the window 61 s + ``margin`` after its last write, the state as
long after its last deadline. Times come from the store's ``clock`` (``time.time``): hosts sharing
a Redis need synchronised clocks, and one-second buckets tolerate the usual NTP drift.

Leases (a router's steady state needs no round trip per call): see ``redis_leases.py``.

Each round trip takes at most ``timeout`` and half of what is left of the call's deadline
(``adapters/redis_link.py``). If Redis fails, the store falls back to a ``MemoryBudgetStore`` holding this
process's share of each budget (``share.py``), logs what failed on ``llmport.budget`` once
(until Redis takes a write again: ``redis_outage.py``), tries Redis again every ``retry_every``
seconds, and logs when it is back; a Redis that lost its data (restarted empty) is logged too.
No call ever fails because of Redis, nor waits on it past its deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

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
from ...domain.errors import ConfigurationError
from ...domain.redaction import redact
from . import lua
from .leasing import LEASE_MAX_CALLS, LEASE_SHARE, checked_lease_seconds
from .memory import MemoryBudgetStore
from .redis_commands import Command, hint_args, reading, remaining_of, reservation_of, reserving
from .redis_leases import LeaseLedger
from .redis_outage import Outage
from .share import Share

__all__ = ["LEASE_MAX_CALLS", "LEASE_SHARE", "RedisBudgetStore"]

T = TypeVar("T")


class RedisBudgetStore:
    """Budgets shared through Redis, with this process's memory as the fallback.

    Args:
        url: ``redis://[:password@]host:port/db`` or ``rediss://`` (never logged: it may hold a password).
        prefix: the namespace of every key this store writes.
        clock: seconds on an epoch every process shares (default ``time.time``).
        retry_every: seconds between attempts to reach Redis again after it failed.
        timeout: seconds to connect or wait for an answer before falling back.
        margin: seconds keys outlive the window (or the state's last deadline).
        defer_reconcile: send a reply's settlement with this store's next request instead of
            on its own (see ``reconcile``), so that a routed call costs one round trip.
        lease_seconds: how long a lease lasts (see the module's docstring); 0 for no leases.

    Raises:
        ConfigurationError: the ``redis`` package is missing (``pip install "llmport[redis]"``).
    """

    origin = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "llmport:budget",
        clock: Callable[[], float] = time.time,
        retry_every: float = 30.0,
        timeout: float = 0.5,
        margin: int = 10,
        defer_reconcile: bool = True,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        try:
            import redis  # noqa: F401 - only whether it is there
        except ImportError:
            raise ConfigurationError(
                'The Redis budget store needs the redis package: pip install "llmport[redis]"'
            ) from None
        from .. import redis_link as link

        self._link = link
        problem: str | None = None
        try:
            # No retries inside the client: a Redis that does not answer at once means the fallback.
            self._redis: Any = link.connect(url, timeout)
        except ValueError as exc:  # a bad port or query value; redis-py's frames hold the URL
            problem = redact(str(exc), (urlsplit(url).password or "",))
        if problem is not None:  # raised here, so that no __context__ links the ValueError
            raise ConfigurationError(f"budget_store: redis cannot read the URL: {problem}")
        self._timeout = timeout
        self._scripts = lua.Scripts(prefix)
        self._prefix = prefix
        self.clock = clock
        self._margin = margin
        self.fallback = MemoryBudgetStore(clock=clock)
        self._lock = threading.Lock()
        self._outage = Outage(retry_every)  # while Redis is down: the fallback serves
        self._share = Share(prefix, margin)  # this process among those sharing the store
        # The key of each deployment's budget in Redis (Budget.key), by deployment name.
        self._key_of: dict[str, str] = {}
        self._defer = defer_reconcile
        self._lease_seconds = checked_lease_seconds(lease_seconds)
        # The leases, what was read while they were open, the settlements waiting (redis_leases.py).
        self._ledger = LeaseLedger(self._lease_seconds)

    def __repr__(self) -> str:
        state = "fallback" if self._outage.until is not None else "redis"
        return f"RedisBudgetStore(prefix={self._prefix!r}, using={state})"

    @property
    def _leases(self) -> dict[str, Lease]:
        """The open leases, by deployment (read on every call without the lock)."""
        return self._ledger.open

    @property
    def using_fallback(self) -> bool:
        """Whether calls are served from this process's memory because Redis failed."""
        return self._outage.until is not None

    def _keys(self, deployment: str) -> list[str]:
        key = self._key_of.get(deployment, deployment).replace("{", "(").replace("}", ")")
        base = f"{self._prefix}:{{{key}}}"
        return [f"{base}:w", f"{base}:s"]

    def _know(self, budgets: Sequence[Budget]) -> None:
        """Learn the Redis key of each budget's deployment (the provider's limit it stands for)."""
        for budget in budgets:
            self._share.know(budget)
            if budget.key is not None and self._key_of.get(budget.deployment) != budget.key:
                self._key_of[budget.deployment] = budget.key

    def _call(self, remote: Callable[[str], T], local: Callable[[], T], *, writes: bool = True) -> T:
        """``remote(now)`` on Redis, or ``local()`` while Redis is down or the call has no time
        left for it; never raises a Redis error. Only a round trip that ``writes`` shows Redis back."""
        now = self.clock()
        with self._lock:
            if self._outage.waiting(now):
                return local()
        if self._link.seconds_for(self._timeout) < _SHORTEST_ROUND_TRIP:
            return local()  # the call's time is nearly up: it goes on without the store
        try:
            result = remote(repr(now))
        except self._link.Trouble as trouble:
            with self._lock:
                self._ledger.abandon()
                if self._outage.until is None:
                    self._share.seed(self.fallback, self.clock())
                self._outage.begin(trouble, self._share.members, self.clock())
            return local()
        if self._outage.until is not None or self._outage.kind is not None:
            with self._lock:
                self._outage.answered(writes, self.clock())
        return result

    def _pipeline(self, commands: Sequence[Command], now: str) -> list[Any]:
        """Run the settlements waiting, then ``commands``, in one round trip; their answers.

        The waiting settlements go first, so that every answer already counts them. The first
        round trip also loads the scripts; a script Redis lost (a restart, SCRIPT FLUSH) is
        loaded again and what it refused is run again. With the scripts goes this store's mark
        (a key that never expires): absent after it was seen, Redis lost every budget, and
        this store says so. About once a second, this process tells Redis it shares the store
        and counts those that do (see ``_share``).
        """
        at = float(now)
        with self._lock:
            pending = self._ledger.take_waiting()
            let_through: list[tuple[str, int, int]] = []
            if self._outage.until is not None:  # trying Redis again: what the fallback let through
                # counts there before anything else (charged again should this try fail: the safe side)
                let_through = self._share.let_through(self.fallback, at)
                pending += [("charge", name, (requests, tokens)) for name, requests, tokens in let_through]
        answers = self._round_trip([self._evalsha(command, now) for command in (*pending, *commands)], now)
        for answer in answers:
            if isinstance(answer, Exception):
                raise self._link.refused(answer, setting=_SETTING)
        if let_through:
            self._share.charged_back(let_through, at)
        return answers[len(pending) :]

    def _round_trip(self, sent: list[tuple[Any, ...]], now: str) -> list[Any]:
        """Send ``sent`` (with the scripts, if not loaded yet, and this process's share of the
        store, when due) in one round trip; their answers, those Redis lost the script of run again."""
        at = float(now)
        loading = [] if self._scripts.loaded else self._scripts.loading()
        watched, beating = self._beating(at, now)
        replies: list[Any] = self._send([*loading, *sent, *beating])
        if loading:
            self._scripts.loaded_now(replies[len(loading) - 1])
        answers = replies[len(loading) : len(loading) + len(sent)]
        counted = replies[len(loading) + len(sent) :]
        if watched is not None and not any(isinstance(answer, Exception) for answer in counted):
            self._share.counted(counted[3], counted[4], remaining_of(watched, counted[5:]), at)
        lost = [i for i, answer in enumerate(answers) if isinstance(answer, self._link.NoScriptError)]
        if lost:
            # Redis lost its scripts (a restart, SCRIPT FLUSH): then it lost them all, so every
            # command was refused and running the refused ones again keeps their order.
            loading = self._scripts.loading()
            again = self._send([*loading, *(sent[i] for i in lost)])
            self._scripts.loaded_now(again[len(loading) - 1])
            for i, answer in zip(lost, again[len(loading) :], strict=True):
                answers[i] = answer
        return answers

    def _send(self, commands: list[Any]) -> list[Any]:
        return self._link.round_trip(self._redis, commands, self._timeout, setting=_SETTING)

    def _beating(self, at: float, now: str) -> tuple[list[Budget] | None, list[Any]]:
        """This process's heartbeat in the store, and the budgets it reads to count its share."""
        if self._outage.until is not None:
            # Trying Redis again after a failure: this process may still be on its fallback
            # (its replies may come too late), whatever Redis hears of it: it says so.
            return None, self._share.beating(at, absent=True)
        watched = self._share.due(at)
        if watched is None:
            return None, []
        return watched, [*self._share.beating(at), *(self._evalsha(reading(b), now) for b in watched)]

    def _run(self, name: str, deployment: str, now: str, *args: str | int) -> Any:
        return self._pipeline([(name, deployment, args)], now)[-1]

    def _evalsha(self, command: Command, now: str) -> tuple[Any, ...]:
        name, deployment, args = command
        return self._scripts.run(name, self._keys(deployment), now, self._margin, *args)

    def reserve(self, budget: Budget, tokens: int) -> Reservation | Refusal:
        check_tokens(tokens)
        self._know((budget,))

        def remote(now: str) -> Reservation | Refusal:
            answer = self._pipeline([reserving(self._share.held(budget), tokens)], now)[0]
            return reservation_of(budget, tokens, answer, self.origin)

        return self._call(remote, lambda: self.fallback.reserve(self._share.of(budget), tokens))

    def reserve_and_read(
        self, budget: Budget, tokens: int, budgets: Sequence[Budget]
    ) -> tuple[Reservation | Refusal, dict[str, Remaining]]:
        """Reserve and read every budget (and send the settlements waiting) in one round trip,
        or none: from this store's lease on the deployment, with the budgets last read."""
        if type(tokens) is not int or tokens < 0:
            check_tokens(tokens)
        lease = self._leases.get(budget.deployment)
        if lease is not None:  # the steady state, kept short: it runs before every call
            now = self.clock()
            with self._lock:
                view = self._ledger.view(budgets, now)
            if view is not None and lease.take(tokens, now):
                return Reservation(budget, tokens, lease.second, False, self.origin, lease), view

        if budget.deployment not in self._key_of:
            self._know((budget, *budgets))

        def remote(now: str) -> tuple[Reservation | Refusal, dict[str, Remaining]]:
            at = float(now)
            with self._lock:
                want, second = self._ledger.begin(budget, tokens, at)
            held = self._share.held
            answers = self._pipeline(
                [reserving(held(budget), tokens, want, second), *(reading(held(b)) for b in budgets)], now
            )
            lease = self._ledger.granted(
                budget, tokens, answers[0], second=second, now=at, origin=self.origin
            )
            answer = reservation_of(budget, tokens, answers[0], self.origin, lease)
            read = remaining_of(budgets, answers[1:])
            with self._lock:
                if lease is not None:
                    self._ledger.install(lease)
                return answer, self._ledger.read(read, at, budgets)

        def local() -> tuple[Reservation | Refusal, dict[str, Remaining]]:
            return self.fallback.reserve_and_read(
                self._share.of(budget), tokens, self._share.of_each(budgets)
            )

        return self._call(remote, local)

    def reconcile(self, reservation: Reservation, used_tokens: int, hint: RateHint | None = None) -> None:
        if type(used_tokens) is not int or used_tokens < 0:
            check_tokens(used_tokens)
        if reservation.origin != self.origin:  # made by the fallback while Redis was down
            self.fallback.reconcile(reservation, used_tokens, hint)
            return
        delta = used_tokens - reservation.tokens
        name = reservation.budget.deployment
        if self._defer and not reservation.probe:
            # Sent with this store's next request: a reply's settlement then costs no round trip
            # of its own. Until then the estimate counts (the safe side). A probe's success is
            # sent at once: every process should see the deployment restored. The settlements
            # of one bucket (a lease's calls) go as one, their sum with the newest hint; a charge
            # and a refund go apart, so that neither hides the other in a bucket cut to 0.
            lease = reservation.lease
            if lease is not None and lease.second == reservation.second and lease.settle(delta, hint):
                return  # kept on its lease, sent when the lease closes
            with self._lock:
                self._ledger.settle_later(name, reservation.second, delta, hint)
                if hint is not None:
                    self._ledger.drop_if_short(name, hint)  # the provider says room is short: go exact
            return
        if hint is not None:
            with self._lock:
                self._ledger.drop_if_short(name, hint)
        command: Command = ("reconcile", name, (reservation.second, delta, *hint_args(hint)))
        self._call(
            lambda now: self._pipeline([command], now),
            lambda: self.fallback.reconcile(reservation, used_tokens, hint),
        )

    def flush(self) -> None:
        """Send the settlements waiting for the next request now (``close()`` does too)."""
        with self._lock:
            waiting = self._ledger.waiting()
        if waiting:
            self._call(lambda now: self._pipeline([], now), lambda: None)

    def fail(
        self,
        reservation: Reservation,
        *,
        cool_until: float | None = None,
        hint: RateHint | None = None,
        counts: bool = True,
    ) -> Health:
        with self._lock:
            self._ledger.drop(reservation.deployment)  # a failure ends the lease: calls go exact again
            self._ledger.forget_views()  # and what the last round trip read is no longer so
        if reservation.origin != self.origin:
            return self.fallback.fail(reservation, cool_until=cool_until, hint=hint, counts=counts)
        budget = reservation.budget

        def remote(now: str) -> Health:
            health: Health = self._run(
                "fail", budget.deployment, now, reservation.second, reservation.tokens, *hint_args(hint),
                "" if cool_until is None else repr(cool_until), int(counts), int(reservation.probe),
                budget.eject_after, repr(budget.eject_for),
            )  # fmt: skip
            return health

        return self._call(
            remote, lambda: self.fallback.fail(reservation, cool_until=cool_until, hint=hint, counts=counts)
        )

    def cool_down(self, deployment: str, until: float) -> None:
        with self._lock:
            self._ledger.drop(deployment)
        self._call(
            lambda now: self._run("cool", deployment, now, repr(until)),
            lambda: self.fallback.cool_down(deployment, until),
        )

    def remaining(self, budgets: Sequence[Budget]) -> dict[str, Remaining]:
        """What each deployment can take now; this store's own leases count as room it has."""

        self._know(budgets)

        def remote(now: str) -> dict[str, Remaining]:
            reads = [reading(self._share.held(b)) for b in budgets]
            read = remaining_of(budgets, self._pipeline(reads, now))
            with self._lock:
                return self._ledger.read(read, float(now), budgets)

        return self._call(remote, lambda: self.fallback.remaining(self._share.of_each(budgets)), writes=False)

    def after_fork(self) -> None:
        """In a forked child: new locks, and connections of its own (never the parent's sockets).

        The settlements waiting and the leases are the parent's; the child drops its copy of them.
        """
        self._lock = threading.Lock()
        self._share.after_fork()  # a process of its own among those sharing the store
        self._ledger = LeaseLedger(self._lease_seconds)
        self.fallback.after_fork()
        self._redis.connection_pool.reset()

    def close(self) -> None:
        """Give back what the leases left, send the settlements waiting, then close the connections."""
        with self._lock:
            self._ledger.drop_all()
        self.flush()
        self._redis.close()


_SETTING = "budget_store"  # where the user wrote the URL, named in the fix the log gives
#: The shortest round trip worth starting: with less of the call's time left, it goes without the store.
_SHORTEST_ROUND_TRIP = 0.002
