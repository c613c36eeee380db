"""The Redis budget store: one view of every deployment's budget for all processes and hosts.

Each call is one Lua script (EVALSHA), so a reservation is atomic and one round trip; reading
several deployments is one pipelined round trip. Keys are ``<prefix>:{<key>}:w`` (the
window's buckets) and ``:s`` (cooldown, hints, failures, ejection, probe), ``<key>`` being what
the provider limits (``Budget.key``: the endpoint and the deployment) or else the deployment's
name; both expire by
themselves, the window 61 s + ``margin`` after its last write, the state as long after its last
deadline. Times come from the store's ``clock`` (``time.time``): hosts sharing a Redis need
synchronised clocks, and one-second buckets tolerate the usual NTP drift.

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

Each round trip takes at most ``timeout`` and half of what is left of the call's deadline
(``_redis_link``). If Redis fails, the store falls back to a ``MemoryBudgetStore`` holding this
process's share of each budget (``_budget_share``), logs what failed on ``llmport.budget`` once
(until Redis takes a write again), tries Redis again every ``retry_every`` seconds, and logs when
it is back; a Redis that lost its data (restarted empty) is logged too. No call ever fails
because of Redis, nor waits on it past its deadline.
"""

from __future__ import annotations

import logging
import math
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
    newest_hint,
)
from ...domain.defaults import LEASE_SECONDS
from ...domain.errors import ConfigurationError
from ...domain.redaction import redact
from . import lua
from .leasing import LEASE_MAX_CALLS, LEASE_SHARE, LeaseBook
from .memory import HINT_SECONDS, MemoryBudgetStore
from .share import Share

__all__ = ["LEASE_MAX_CALLS", "LEASE_SHARE", "RedisBudgetStore"]

logger = logging.getLogger("llmport.budget")
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
        from . import redis_link as link

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
        self._retry_every = retry_every
        self._margin = margin
        self.fallback = MemoryBudgetStore(clock=clock)
        self._lock = threading.Lock()
        self._down_until: float | None = None  # None: Redis is in use
        self._trouble: str | None = None  # the kind of failure logged last, until Redis is back
        self._share = Share(prefix, margin)  # this process among those sharing the store
        # The key of each deployment's budget in Redis (Budget.key), by deployment name.
        self._key_of: dict[str, str] = {}
        self._defer = defer_reconcile
        self._pending: list[_Command] = []  # leases' releases waiting for the next request
        # Replies' settlements waiting for the next request: one per deployment, bucket and sign
        # (the sum of their token differences), and the newest hint of each deployment.
        self._settling: dict[tuple[str, int, bool], int] = {}
        self._hints: dict[str, RateHint] = {}
        if not (
            isinstance(lease_seconds, (int, float)) and math.isfinite(lease_seconds) and lease_seconds >= 0
        ):
            raise ConfigurationError("lease_seconds must be seconds >= 0")
        self._lease_seconds = float(lease_seconds)
        self._book = LeaseBook(self._lease_seconds)
        self._leases = self._book.open  # by deployment; read on every call without the lock
        # What the last round trips read while this store held a lease: the budgets read, when,
        # and the view; by the id of the budgets' sequence (a router's, for chat or embeddings).
        self._lease_views: dict[int, tuple[Sequence[Budget], float, dict[str, Remaining]]] = {}

    def __repr__(self) -> str:
        state = "fallback" if self._down_until is not None else "redis"
        return f"RedisBudgetStore(prefix={self._prefix!r}, using={state})"

    @property
    def using_fallback(self) -> bool:
        """Whether calls are served from this process's memory because Redis failed."""
        return self._down_until is not None

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
            if self._down_until is not None and now < self._down_until:
                return local()
        if self._link.seconds_for(self._timeout) < _SHORTEST_ROUND_TRIP:
            return local()  # the call's time is nearly up: it goes on without the store
        try:
            result = remote(repr(now))
        except self._link.Trouble as trouble:
            with self._lock:
                # Leases cannot be given back now: their room stays counted (the safe side),
                # and nobody holding one may take from it any more.
                for lease in self._book.clear():
                    lease.close()
                self._lease_views.clear()
                if self._down_until is None:
                    self._share.seed(self.fallback, self.clock())
                if trouble.kind != self._trouble:  # each trouble once, until Redis is back
                    self._trouble = trouble.kind
                    logger.warning(
                        "Redis budget store: %s. Until it answers, this process takes its share of "
                        "each budget (1/%d: the processes last counted sharing the store); "
                        "retrying every %.0f s",
                        trouble.message,
                        self._share.members,
                        self._retry_every,
                    )
                self._down_until = self.clock() + self._retry_every
            return local()
        if writes and (self._down_until is not None or self._trouble is not None):
            with self._lock:
                if self._trouble is not None:
                    logger.info("Redis budget store reachable again; budgets are shared again")
                self._down_until = self._trouble = None
        elif self._down_until is not None:
            self._down_until = self.clock()  # it answered a read: the next write tries it again
        return result

    def _pipeline(self, commands: Sequence[_Command], now: str) -> list[Any]:
        """Run the settlements waiting, then ``commands``, in one round trip; their answers.

        The waiting settlements go first, so that every answer already counts them. The first
        round trip also loads the scripts; a script Redis lost (a restart, SCRIPT FLUSH) is
        loaded again and what it refused is run again. With the scripts goes this store's mark
        (a key that never expires): absent after it was seen, Redis lost every budget, and
        this store says so. About once a second, this process tells Redis it shares the store
        and counts those that do (see ``_share``).
        """
        link = self._link
        with self._lock:
            for name, lease in self._leases.items():  # what the calls from leases settled
                self._collect(name, lease)
            pending = self._settlements()
            pending += self._pending
            self._pending = []
            let_through: list[tuple[str, int, int]] = []
            if self._down_until is not None:  # trying Redis again: what the fallback let through
                # counts there before anything else (charged again should this try fail: the safe side)
                let_through = self._share.let_through(self.fallback, float(now))
                pending += [("charge", name, (requests, tokens)) for name, requests, tokens in let_through]
        everything = [*pending, *commands]
        at = float(now)
        sent = [self._evalsha(command, now) for command in everything]
        loading = [] if self._scripts.loaded else self._scripts.loading()
        watched, beating = None, []
        if self._down_until is not None:
            # Trying Redis again after a failure: this process may still be on its fallback
            # (its replies may come too late), whatever Redis hears of it: it says so.
            beating = self._share.beating(at, absent=True)
        else:
            watched = self._share.due(at)
            if watched is not None:
                beating = [*self._share.beating(at), *(self._evalsha(_reading(b), now) for b in watched)]
        replies: list[Any] = link.round_trip(self._redis, [*loading, *sent, *beating], self._timeout)
        if loading:
            self._loaded_now(replies[len(loading) - 1])
        answers = replies[len(loading) : len(loading) + len(sent)]
        counted = replies[len(loading) + len(sent) :]
        if watched is not None and not any(isinstance(answer, Exception) for answer in counted):
            self._share.counted(counted[3], counted[4], _remaining(watched, counted[5:]), at)
        lost = [i for i, answer in enumerate(answers) if isinstance(answer, link.NoScriptError)]
        if lost:
            # Redis lost its scripts (a restart, SCRIPT FLUSH): then it lost them all, so every
            # command was refused and running the refused ones again keeps their order.
            loading = self._scripts.loading()
            again = link.round_trip(self._redis, [*loading, *(sent[i] for i in lost)], self._timeout)
            self._loaded_now(again[len(loading) - 1])
            for i, answer in zip(lost, again[len(loading) :], strict=True):
                answers[i] = answer
        for answer in answers:
            if isinstance(answer, Exception):
                raise link.refused(answer)
        if let_through:
            self._share.charged_back(let_through, at)
        return answers[len(pending) :]

    def _run(self, name: str, deployment: str, now: str, *args: str | int) -> Any:
        return self._pipeline([(name, deployment, args)], now)[-1]

    def _evalsha(self, command: _Command, now: str) -> tuple[Any, ...]:
        name, deployment, args = command
        return self._scripts.run(name, self._keys(deployment), now, self._margin, *args)

    def _loaded_now(self, marked: Any) -> None:
        if self._scripts.loaded_now(marked):
            logger.warning(
                "Redis budget store: Redis lost every budget, cooldown and ejection (restarted "
                "empty, or flushed); they count again from zero. Make Redis keep its data across "
                "restarts (appendonly yes) if that matters"
            )

    def reserve(self, budget: Budget, tokens: int) -> Reservation | Refusal:
        check_tokens(tokens)
        self._know((budget,))

        def remote(now: str) -> Reservation | Refusal:
            answer = self._pipeline([_reserving(self._share.held(budget), tokens)], now)[0]
            return self._reserved(budget, tokens, answer)

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
                view = self._lease_view(budgets, now)
            if view is not None and lease.take(tokens, now):
                return Reservation(budget, tokens, lease.second, False, self.origin, lease), view

        if budget.deployment not in self._key_of:
            self._know((budget, *budgets))

        def remote(now: str) -> tuple[Reservation | Refusal, dict[str, Remaining]]:
            at = float(now)
            with self._lock:
                old, want, second = self._book.ending(budget, tokens, at)
                if old is not None:
                    self._release(budget.deployment, old)
            held = self._share.held
            reserving = _reserving(held(budget), tokens, want, second)
            answers = self._pipeline([reserving, *(_reading(held(b)) for b in budgets)], now)
            granted = int(answers[0][3]) if int(answers[0][0]) == 1 else 0
            lease = None
            if granted:
                lease = Lease(
                    budget, second=second, until=at + self._lease_seconds, calls=granted,
                    tokens=granted * tokens, origin=self.origin,
                )  # fmt: skip
            answer = self._reserved(budget, tokens, answers[0], lease)
            read = _remaining(budgets, answers[1:])
            with self._lock:
                if lease is not None:
                    replaced = self._book.install(lease)
                    if replaced is not None:  # another thread's round trip got one too: keep the newer
                        self._release(budget.deployment, replaced)
                return answer, self._read(read, at, budgets)

        def local() -> tuple[Reservation | Refusal, dict[str, Remaining]]:
            return self.fallback.reserve_and_read(
                self._share.of(budget), tokens, self._share.of_each(budgets)
            )

        return self._call(remote, local)

    # -- leases (every method below runs under self._lock) ---------------------------------------

    def _lease_view(self, budgets: Sequence[Budget], now: float) -> dict[str, Remaining] | None:
        """What the last round trip read of ``budgets`` while this store held a lease, if lately."""
        kept = self._lease_views.get(id(budgets))  # a router passes the same sequence each time
        if kept is None or kept[0] is not budgets:  # not this very sequence: one with its names?
            names = _names(budgets)
            kept = next((each for each in self._lease_views.values() if _names(each[0]) == names), None)
        if kept is None or not 0 <= now - kept[1] <= self._lease_seconds:
            return None  # these budgets were not read lately: read them all
        return kept[2]

    def _release(self, name: str, lease: Lease) -> None:
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
            self._settle_later(name, lease.second, refunded, hint)
        if charged or (hint is not None and not refunded):
            self._settle_later(name, lease.second, charged, hint)

    def _settle_later(self, name: str, second: int, delta: int, hint: RateHint | None) -> None:
        """Add a settlement to those sent with the next request (a charge and a refund apart)."""
        key = (name, second, delta < 0)
        self._settling[key] = self._settling.get(key, 0) + delta
        if hint is not None:
            self._hints[name] = newest_hint(self._hints.get(name), hint)

    def _drop(self, name: str) -> None:
        lease = self._book.pop(name)
        if lease is not None:
            self._release(name, lease)
            self._lease_views.clear()  # they show its room: the next call reads afresh

    def _read(
        self, read: dict[str, Remaining], now: float, budgets: Sequence[Budget]
    ) -> dict[str, Remaining]:
        """End the leases of deployments not serving; add the leases' room to what Redis said.

        While this store holds a lease, calls from it answer with this view (``reserve_and_read``).
        """
        names = _names(budgets)
        self._lease_views = {
            key: kept
            for key, kept in self._lease_views.items()
            if _names(kept[0]) != names  # older
        }
        view = {}
        for name, left in read.items():
            lease = self._leases.get(name)
            if lease is not None and (left.health != "closed" or left.wait > 0):
                self._drop(name)  # cooling, ejected or full, as another process may have seen
            elif lease is not None and lease.until > now:
                left = _plus(left, lease)  # noqa: PLW2901 - the read, as this store sees it
            view[name] = left
        if self._leases:
            self._lease_views[id(budgets)] = (budgets, now, view)
        return view

    def _reserved(
        self, budget: Budget, tokens: int, answer: Any, lease: Lease | None = None
    ) -> Reservation | Refusal:
        if int(answer[0]) == 1:
            return Reservation(budget, tokens, int(answer[2]), bool(int(answer[1])), self.origin, lease)
        return Refusal(budget.deployment, answer[1], _seconds(answer[2]))

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
                self._settle_later(name, reservation.second, delta, hint)
                if hint is not None:
                    self._drop_if_short(name, hint)
            return
        if hint is not None:
            with self._lock:
                self._drop_if_short(name, hint)
        command: _Command = ("reconcile", name, (reservation.second, delta, *_hint_args(hint)))
        self._call(
            lambda now: self._pipeline([command], now),
            lambda: self.fallback.reconcile(reservation, used_tokens, hint),
        )

    def _drop_if_short(self, name: str, hint: RateHint) -> None:
        lease = self._leases.get(name)
        if lease is not None and lease.short(hint):
            self._drop(name)  # the provider says room is short: go exact

    def _settlements(self) -> list[_Command]:
        """The replies' settlements waiting, as commands; none wait after it."""
        if not self._settling:
            return []
        hints = self._hints
        commands: list[_Command] = [
            ("reconcile", name, (second, delta, *_hint_args(hints.pop(name, None))))
            for (name, second, _), delta in self._settling.items()
        ]
        self._settling, self._hints = {}, {}
        return commands

    def flush(self) -> None:
        """Send the settlements waiting for the next request now (``close()`` does too)."""
        with self._lock:
            waiting = bool(self._pending or self._settling) or any(
                lease.charged or lease.refunded or lease.hint is not None for lease in self._leases.values()
            )
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
            self._drop(reservation.deployment)  # a failure ends the lease: calls go exact again
            self._lease_views.clear()  # and what the last round trip read is no longer so
        if reservation.origin != self.origin:
            return self.fallback.fail(reservation, cool_until=cool_until, hint=hint, counts=counts)
        budget = reservation.budget

        def remote(now: str) -> Health:
            health: Health = self._run(
                "fail", budget.deployment, now, reservation.second, reservation.tokens, *_hint_args(hint),
                "" if cool_until is None else repr(cool_until), int(counts), int(reservation.probe),
                budget.eject_after, repr(budget.eject_for),
            )  # fmt: skip
            return health

        return self._call(
            remote, lambda: self.fallback.fail(reservation, cool_until=cool_until, hint=hint, counts=counts)
        )

    def cool_down(self, deployment: str, until: float) -> None:
        with self._lock:
            self._drop(deployment)
        self._call(
            lambda now: self._run("cool", deployment, now, repr(until)),
            lambda: self.fallback.cool_down(deployment, until),
        )

    def remaining(self, budgets: Sequence[Budget]) -> dict[str, Remaining]:
        """What each deployment can take now; this store's own leases count as room it has."""

        self._know(budgets)

        def remote(now: str) -> dict[str, Remaining]:
            reads = [_reading(self._share.held(b)) for b in budgets]
            read = _remaining(budgets, self._pipeline(reads, now))
            with self._lock:
                return self._read(read, float(now), budgets)

        return self._call(remote, lambda: self.fallback.remaining(self._share.of_each(budgets)), writes=False)

    def after_fork(self) -> None:
        """In a forked child: new locks, and connections of its own (never the parent's sockets).

        The settlements waiting and the leases are the parent's; the child drops its copy of them.
        """
        self._lock = threading.Lock()
        self._share.after_fork()  # a process of its own among those sharing the store
        self._pending = []
        self._settling = {}
        self._hints = {}
        self._book = LeaseBook(self._lease_seconds)
        self._leases = self._book.open
        self._lease_views = {}
        self.fallback.after_fork()
        self._redis.connection_pool.reset()

    def close(self) -> None:
        """Give back what the leases left, send the settlements waiting, then close the connections."""
        with self._lock:
            for name in list(self._leases):
                self._drop(name)
        self.flush()
        self._redis.close()


#: The shortest round trip worth starting: with less of the call's time left, it goes without the store.
_SHORTEST_ROUND_TRIP = 0.002


#: One script run: its name, the deployment whose keys it takes, its arguments after ``now, margin``.
_Command = tuple[str, str, Sequence[str | int]]


def _reserving(budget: Budget, tokens: int, lease: int = 0, second: int = 0) -> _Command:
    args = (tokens, _limit(budget.rpm), _limit(budget.tpm), repr(budget.probe_timeout), lease, second)
    return ("reserve", budget.deployment, args)


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


def _reading(budget: Budget) -> _Command:
    return ("remaining", budget.deployment, (_limit(budget.rpm), _limit(budget.tpm)))


def _remaining(budgets: Sequence[Budget], answers: Sequence[Any]) -> dict[str, Remaining]:
    return {
        budget.deployment: Remaining(
            budget.deployment,
            requests=None if int(answer[0]) < 0 else int(answer[0]),
            tokens=None if int(answer[1]) < 0 else int(answer[1]),
            health=answer[2],
            wait=_seconds(answer[3]),
        )
        for budget, answer in zip(budgets, answers, strict=True)
    }


def _limit(value: int | None) -> int:
    return -1 if value is None else value


def _seconds(millis: Any) -> float:
    value = int(millis)
    return float("inf") if value < 0 else value / 1000


def _hint_args(hint: RateHint | None) -> list[str]:
    if hint is None:
        return ["", "", "", ""]
    args = []
    for left, reset in (
        (hint.remaining_requests, hint.reset_requests),
        (hint.remaining_tokens, hint.reset_tokens),
    ):
        args += ["", ""] if left is None else [str(left), repr(HINT_SECONDS if reset is None else reset)]
    return args
