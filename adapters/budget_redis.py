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
        self._clock = clock
        self._retry_every = retry_every
        self._margin = margin
        self.fallback = MemoryBudgetStore(clock=clock)
        self._lock = threading.Lock()
        self._down_until: float | None = None  # None: Redis is in use

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
        now = self._clock()
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
                self._down_until = self._clock() + self._retry_every
            return local()
        with self._lock:
            if self._down_until is not None:
                self._down_until = None
                logger.info("Redis budget store reachable again; budgets are shared again")
        return result

    def _run(self, name: str, deployment: str, now: str, *args: str | int) -> Any:
        return self._scripts[name](keys=self._keys(deployment), args=[now, self._margin, *args])

    def reserve(self, budget: Budget, tokens: int) -> Reservation | Refusal:
        check_tokens(tokens)

        def remote(now: str) -> Reservation | Refusal:
            answer = self._run(
                "reserve", budget.deployment, now, tokens, _limit(budget.rpm), _limit(budget.tpm),
                repr(budget.probe_timeout),
            )  # fmt: skip
            if int(answer[0]) == 1:
                return Reservation(budget, tokens, int(answer[2]), bool(int(answer[1])), self.origin)
            return Refusal(budget.deployment, answer[1], _seconds(answer[2]))

        return self._call(remote, lambda: self.fallback.reserve(budget, tokens))

    def reconcile(self, reservation: Reservation, used_tokens: int, hint: RateHint | None = None) -> None:
        check_tokens(used_tokens)
        if reservation.origin != self.origin:  # made by the fallback while Redis was down
            self.fallback.reconcile(reservation, used_tokens, hint)
            return
        delta = used_tokens - reservation.tokens
        self._call(
            lambda now: self._run(
                "reconcile", reservation.deployment, now, reservation.second, delta, *_hint_args(hint)
            ),
            lambda: self.fallback.reconcile(reservation, used_tokens, hint),
        )

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
        def remote(now: str) -> dict[str, Remaining]:
            answers = self._pipelined(budgets, now)
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

        return self._call(remote, lambda: self.fallback.remaining(budgets))

    def _pipelined(self, budgets: Sequence[Budget], now: str) -> list[Any]:
        """One round trip for all deployments; the script is loaded once if Redis lost it."""
        import redis

        script = self._scripts["remaining"]
        for attempt in range(2):
            pipe = self._redis.pipeline(transaction=False)
            for budget in budgets:
                args = [now, self._margin, _limit(budget.rpm), _limit(budget.tpm)]
                pipe.evalsha(script.sha, 2, *self._keys(budget.deployment), *args)
            try:
                return list(pipe.execute())
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                self._redis.script_load(script.script)
        raise AssertionError("unreachable")

    def after_fork(self) -> None:
        """In a forked child: new locks, and connections of its own (never the parent's sockets)."""
        self._lock = threading.Lock()
        self.fallback.after_fork()
        self._redis.connection_pool.reset()

    def close(self) -> None:
        """Close the connections to Redis."""
        self._redis.close()


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
