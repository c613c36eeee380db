"""The Redis budget store: one view of every deployment's budget for all processes and hosts.

Each call is one Lua script (EVALSHA), so a reservation is atomic and one round trip; reading
several deployments is one pipelined round trip. Keys are ``<prefix>:{<deployment>}:w`` (the
window's buckets) and ``:s`` (cooldown, hints, failures, ejection, probe); both expire by
themselves, the window 61 s + ``margin`` after its last write, the state as long after its last
deadline. Times come from the store's ``clock`` (``time.time``): hosts sharing a Redis need
synchronised clocks, and one-second buckets tolerate the usual NTP drift.

If Redis cannot be reached, the store falls back to a ``MemoryBudgetStore`` (this process's
budgets only), logs one warning on ``llmport.budget``, tries Redis again every ``retry_every``
seconds, and logs when it is back. No call ever fails because of Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..domain.budget import Budget, Health, RateHint, Refusal, Remaining, Reservation, check_tokens
from ..domain.errors import ConfigurationError
from . import _budget_lua as lua
from .budget_memory import HINT_SECONDS, MemoryBudgetStore

__all__ = ["RedisBudgetStore"]

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
    ) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigurationError(
                'The Redis budget store needs the redis package: pip install "llmport[redis]"'
            ) from None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        # No retries inside the client: a Redis that does not answer at once means the fallback.
        self._redis: Any = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._scripts = {
            name: self._redis.register_script(source)
            for name, source in (
                ("reserve", lua.RESERVE),
                ("reconcile", lua.RECONCILE),
                ("fail", lua.FAIL),
                ("cool", lua.COOL),
                ("remaining", lua.REMAINING),
            )
        }
        self._prefix = prefix
        self.clock = clock
        self._retry_every = retry_every
        self._margin = margin
        self.fallback = MemoryBudgetStore(clock=clock)
        self._lock = threading.Lock()
        self._down_until: float | None = None  # None: Redis is in use
        self._defer = defer_reconcile
        self._loaded = False  # whether Redis was given the scripts (once, on first use)
        self._pending: list[_Command] = []  # settlements waiting for the next request

    def __repr__(self) -> str:
        state = "fallback" if self._down_until is not None else "redis"
        return f"RedisBudgetStore(prefix={self._prefix!r}, using={state})"

    @property
    def using_fallback(self) -> bool:
        """Whether calls are served from this process's memory because Redis failed."""
        return self._down_until is not None

    def _keys(self, deployment: str) -> list[str]:
        base = f"{self._prefix}:{{{deployment}}}"
        return [f"{base}:w", f"{base}:s"]

    def _call(self, remote: Callable[[str], T], local: Callable[[], T]) -> T:
        """``remote(now)`` on Redis, or ``local()`` while Redis is down; never raises a Redis error."""
        now = self.clock()
        with self._lock:
            if self._down_until is not None and now < self._down_until:
                return local()
        try:
            result = remote(repr(now))
        except self._errors as exc:
            with self._lock:
                if self._down_until is None:
                    logger.warning(
                        "Redis budget store unreachable (%s: %s); using this process's budgets, "
                        "retrying every %.0f s",
                        type(exc).__name__,
                        exc,
                        self._retry_every,
                    )
                self._down_until = self.clock() + self._retry_every
            return local()
        with self._lock:
            if self._down_until is not None:
                self._down_until = None
                logger.info("Redis budget store reachable again; budgets are shared again")
        return result

    def _load_scripts(self) -> None:
        """Load every script at once, so that Redis holds all of them or (after a restart) none."""
        pipe = self._redis.pipeline(transaction=False)
        for script in self._scripts.values():
            pipe.script_load(script.script)
        pipe.execute()
        self._loaded = True

    def _run(self, name: str, deployment: str, now: str, *args: str | int) -> Any:
        return self._pipeline([(name, deployment, args)], now)[-1]

    def _pipeline(self, commands: Sequence[_Command], now: str) -> list[Any]:
        """Run the settlements waiting, then ``commands``, in one round trip; their answers.

        The waiting settlements go first, so that every answer already counts them. A script
        Redis lost (a restart, SCRIPT FLUSH) is loaded again and what it refused is run again.
        """
        import redis

        if not self._loaded:
            self._load_scripts()
        with self._lock:
            pending, self._pending = self._pending, []
        everything = [*pending, *commands]
        pipe = self._redis.pipeline(transaction=False)
        for name, deployment, args in everything:
            pipe.evalsha(self._scripts[name].sha, 2, *self._keys(deployment), now, self._margin, *args)
        answers = list(pipe.execute(raise_on_error=False))
        lost = [i for i, answer in enumerate(answers) if isinstance(answer, redis.exceptions.NoScriptError)]
        if lost:
            # Redis lost its scripts (a restart, SCRIPT FLUSH): then it lost them all, so every
            # command was refused and running the refused ones again keeps their order.
            self._load_scripts()
            pipe = self._redis.pipeline(transaction=False)
            for i in lost:
                name, deployment, args = everything[i]
                pipe.evalsha(self._scripts[name].sha, 2, *self._keys(deployment), now, self._margin, *args)
            for i, answer in zip(lost, pipe.execute(raise_on_error=False), strict=True):
                answers[i] = answer
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        return answers[len(pending) :]

    def reserve(self, budget: Budget, tokens: int) -> Reservation | Refusal:
        check_tokens(tokens)

        def remote(now: str) -> Reservation | Refusal:
            answer = self._pipeline([_reserving(budget, tokens)], now)[0]
            return self._reserved(budget, tokens, answer)

        return self._call(remote, lambda: self.fallback.reserve(budget, tokens))

    def reserve_and_read(
        self, budget: Budget, tokens: int, budgets: Sequence[Budget]
    ) -> tuple[Reservation | Refusal, dict[str, Remaining]]:
        """Reserve and read every budget (and send the settlements waiting) in one round trip."""
        check_tokens(tokens)

        def remote(now: str) -> tuple[Reservation | Refusal, dict[str, Remaining]]:
            answers = self._pipeline([_reserving(budget, tokens), *map(_reading, budgets)], now)
            return self._reserved(budget, tokens, answers[0]), _remaining(budgets, answers[1:])

        return self._call(remote, lambda: self.fallback.reserve_and_read(budget, tokens, budgets))

    def _reserved(self, budget: Budget, tokens: int, answer: Any) -> Reservation | Refusal:
        if int(answer[0]) == 1:
            return Reservation(budget, tokens, int(answer[2]), bool(int(answer[1])), self.origin)
        return Refusal(budget.deployment, answer[1], _seconds(answer[2]))

    def reconcile(self, reservation: Reservation, used_tokens: int, hint: RateHint | None = None) -> None:
        check_tokens(used_tokens)
        if reservation.origin != self.origin:  # made by the fallback while Redis was down
            self.fallback.reconcile(reservation, used_tokens, hint)
            return
        delta = used_tokens - reservation.tokens
        command: _Command = (
            "reconcile",
            reservation.deployment,
            (reservation.second, delta, *_hint_args(hint)),
        )
        if self._defer and not reservation.probe:
            # Sent with this store's next request: a reply's settlement then costs no round trip
            # of its own. Until then the estimate counts (the safe side). A probe's success is
            # sent at once: every process should see the deployment restored.
            with self._lock:
                self._pending.append(command)
            return
        self._call(
            lambda now: self._pipeline([command], now),
            lambda: self.fallback.reconcile(reservation, used_tokens, hint),
        )

    def flush(self) -> None:
        """Send the settlements waiting for the next request now (``close()`` does too)."""
        with self._lock:
            waiting = bool(self._pending)
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
        self._call(
            lambda now: self._run("cool", deployment, now, repr(until)),
            lambda: self.fallback.cool_down(deployment, until),
        )

    def remaining(self, budgets: Sequence[Budget]) -> dict[str, Remaining]:
        return self._call(
            lambda now: _remaining(budgets, self._pipeline([_reading(b) for b in budgets], now)),
            lambda: self.fallback.remaining(budgets),
        )

    def after_fork(self) -> None:
        """In a forked child: new locks, and connections of its own (never the parent's sockets).

        The settlements waiting are the parent's to send; the child drops its copy of them.
        """
        self._lock = threading.Lock()
        self._pending = []
        self.fallback.after_fork()
        self._redis.connection_pool.reset()

    def close(self) -> None:
        """Send the settlements waiting, then close the connections to Redis."""
        self.flush()
        self._redis.close()


#: One script run: its name, the deployment whose keys it takes, its arguments after ``now, margin``.
_Command = tuple[str, str, Sequence[str | int]]


def _reserving(budget: Budget, tokens: int) -> _Command:
    args = (tokens, _limit(budget.rpm), _limit(budget.tpm), repr(budget.probe_timeout))
    return ("reserve", budget.deployment, args)


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
