"""The one retry policy of llmport: full-jitter backoff, Retry-After, a deadline and one re-auth."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from ..domain.call_options import CallOptions, call_options_scope
from ..domain.deadline import Deadline, deadline_scope
from ..domain.errors import AuthenticationError, ConfigurationError, LLMPortError, RequestTimeoutError

__all__ = ["Retrier", "RetryEvent", "RetryPolicy"]

T = TypeVar("T")

# 2**_MAX_EXPONENT seconds is far beyond any sane max_backoff; the cap only keeps the
# float arithmetic finite when someone configures thousands of retries.
_MAX_EXPONENT = 32


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry one call.

    Args:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_backoff: the backoff ceiling before the first retry, in seconds; it doubles per retry.
        max_backoff: the cap of one backoff ceiling, in seconds.
        max_retry_after: the longest wait a provider's ``retry_after`` hint can impose, in seconds.
        deadline: total seconds for one call, all attempts and waits (and a stream's reading);
            ``None`` for no deadline. Adapters bound every network wait by it.

    Raises:
        ConfigurationError: a limit is negative, or the deadline is not positive.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0
    deadline: float | None = 60.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise ConfigurationError(
                f"max_retries must be an int >= 0 (LLMPORT_MAX_RETRIES), got {self.max_retries!r}"
            )
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"RetryPolicy.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.deadline is not None and self.deadline <= 0:
            raise ConfigurationError(
                f"deadline must be > 0 seconds, or None for none (LLMPORT_DEADLINE), got {self.deadline!r}"
            )

    def delay(self, retries_taken: int, error: LLMPortError, rand: float) -> float:
        """Return the seconds to wait before retry number ``retries_taken + 1``.

        Full jitter: a uniform pick in ``[0, min(max_backoff, initial_backoff * 2**retries_taken))``,
        so that many clients throttled together do not come back together. A provider's
        ``retry_after`` (on a 429, or a 503 that sends one) is a floor on that wait, capped at
        ``max_retry_after``: a hint longer than the cap still waits the cap and tries again (the
        attempt may meet another 429, which the retry budget and the deadline bound) rather than
        give up on a busy but healthy service.

        Args:
            retries_taken: retries already made for this call (0 before the first retry).
            error: the error the last attempt raised.
            rand: a number in ``[0, 1)``.
        """
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** min(retries_taken, _MAX_EXPONENT))
        jittered = rand * ceiling
        retry_after = error.retry_after
        if retry_after is not None and retry_after > 0:
            return min(max(retry_after, jittered), self.max_retry_after)
        return jittered


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """One retry about to happen: what failed, on which attempt, and how long we wait.

    ``reason`` is ``"retryable"`` for a transient error and ``"unauthorized"`` for the single
    retry after a 401 with a new token (which waits 0 and does not count against max_retries).
    """

    attempt: int
    error: LLMPortError
    delay: float
    reason: Literal["retryable", "unauthorized"] = "retryable"


class Retrier:
    """Runs an operation under a RetryPolicy; the only place llmport retries anything.

    Args:
        policy: the limits.
        sleep: waits a number of seconds (injected so tests never sleep).
        clock: monotonic seconds, for the deadline.
        rand: uniform numbers in ``[0, 1)``, for the jitter.
    """

    __slots__ = ("_clock", "_policy", "_rand", "_sleep")

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        self._rand = rand

    @property
    def policy(self) -> RetryPolicy:
        """The limits this retrier applies."""
        return self._policy

    def __repr__(self) -> str:
        return f"Retrier({self._policy!r})"

    def deadline_at(self, options: CallOptions | None = None) -> float | None:
        """The moment (on this retrier's clock) a call starting now must be over, or None.

        Args:
            options: the call's own options (its ``deadline`` wins over the policy's).
        """
        deadline = self.policy_for(options).deadline
        return None if deadline is None else self._clock() + deadline

    def policy_for(self, options: CallOptions | None) -> RetryPolicy:
        """This retrier's policy with a call's own ``max_retries`` and ``deadline``, when it sets them."""
        policy = self._policy
        if options is None or (options.max_retries is None and options.deadline is None):
            return policy
        return replace(
            policy,
            max_retries=policy.max_retries if options.max_retries is None else options.max_retries,
            deadline=policy.deadline if options.deadline is None else options.deadline,
        )

    def call(
        self,
        operation: Callable[[], T],
        *,
        on_unauthorized: Callable[[AuthenticationError], bool] | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        deadline_at: float | None = None,
        options: CallOptions | None = None,
    ) -> T:
        """Return ``operation()``, retrying it while the policy allows.

        Each attempt runs under the call's deadline (``llmport.domain.deadline``), which the
        adapters apply to every socket wait: the call returns or raises by the deadline.

        Args:
            operation: the call to make; it raises LLMPortError subclasses on failure.
            on_unauthorized: called with the first 401; it gets a new token and returns True when
                the token differs from the rejected one, and the operation is then retried once at
                once, outside max_retries. When it returns False the 401 is final.
            on_retry: told about every retry before it happens (for logging).
            deadline_at: when the call must be over, on this retrier's clock; by default
                ``policy.deadline`` from now. Batches of one call share one.
            options: this call's own options: its ``max_retries`` and ``deadline`` replace the
                policy's for this call only; its ``timeout`` and ``headers`` are made the current
                call options (``llmport.domain.call_options``) of each attempt, for the adapter.

        Raises:
            LLMPortError: the last error, when it is not retryable, the retries are spent, or
                waiting would cross the deadline; RequestTimeoutError when the deadline passed
                before an attempt could start. Other exceptions propagate untouched at once.
        """
        policy = self.policy_for(options)
        if deadline_at is None:
            deadline_at = None if policy.deadline is None else self._clock() + policy.deadline
        if options is not None and options.changes_requests:
            operation = _scoped(operation, options)
        deadline = None if deadline_at is None else Deadline(deadline_at, self._clock)
        reauthenticated = False
        attempt = 0
        for retries_taken in range(policy.max_retries + 1):
            attempt += 1
            last_error: LLMPortError
            try:
                return self._attempt(operation, deadline, policy)
            except AuthenticationError as error:
                # Rule: one retry at once after a 401, with a new token (see _renews_token).
                if not _renews_token(error, reauthenticated, on_unauthorized):
                    raise
                reauthenticated = True
                if on_retry is not None:
                    on_retry(RetryEvent(attempt, error, 0.0, "unauthorized"))
                attempt += 1
                try:
                    return self._attempt(operation, deadline, policy)
                except LLMPortError as error_after_reauth:
                    last_error = error_after_reauth
            except LLMPortError as error:
                last_error = error
            # Rule: errors the provider will repeat (400, 401, 403, 404, quota) go to the caller.
            if not last_error.retryable:
                raise last_error
            # Rule: the retry budget is spent.
            if retries_taken >= policy.max_retries:
                raise last_error
            # Rule: wait the backoff, unless it would cross the deadline (see _wait).
            self._wait(
                policy, retries_taken, last_error, attempt=attempt, deadline=deadline, on_retry=on_retry
            )
        # Unreachable: the last pass of the loop either returned or raised.
        raise RuntimeError("Retrier.call left its loop without a result")

    def _wait(
        self,
        policy: RetryPolicy,
        retries_taken: int,
        error: LLMPortError,
        *,
        attempt: int,
        deadline: Deadline | None,
        on_retry: Callable[[RetryEvent], None] | None,
    ) -> None:
        """Wait before retry number ``retries_taken + 1``, after ``error`` on ``attempt``.

        Raises:
            LLMPortError: ``error``, saying why, when the wait would cross the deadline.
        """
        wait = policy.delay(retries_taken, error, self._rand())
        # Rule: never sleep past the deadline; failing now beats waiting for a doomed attempt.
        if deadline is not None and self._clock() + wait >= deadline.at:
            raise _not_waited(error, wait, deadline.at - self._clock())
        if on_retry is not None:
            on_retry(RetryEvent(attempt, error, wait))
        self._sleep(wait)

    def _attempt(self, operation: Callable[[], T], deadline: Deadline | None, policy: RetryPolicy) -> T:
        if deadline is None:
            return operation()
        if deadline.remaining() <= 0:
            # Rule: no attempt starts after the deadline (batches of one call share it).
            raise RequestTimeoutError(
                f"the call's deadline of {policy.deadline} s passed before the request was sent"
            )
        with deadline_scope(deadline):
            return operation()


def _renews_token(
    error: AuthenticationError,
    reauthenticated: bool,
    on_unauthorized: Callable[[AuthenticationError], bool] | None,
) -> bool:
    """Whether to retry the call at once after ``error``, with a new token.

    Rule: a 401 may mean the token went stale or was revoked; try once more at once, but only with
    a token the credential says is new (or that meets the claims challenge). The same token again
    would only earn the same 401. A credential that failed to give a token (no status) has nothing
    stale to drop. ``on_unauthorized`` (which gets the new token) is asked last, and only once.
    """
    return (
        error.status_code == 401
        and not reauthenticated
        and on_unauthorized is not None
        and on_unauthorized(error)
    )


def _not_waited(error: LLMPortError, wait: float, left: float) -> LLMPortError:
    """``error``, its message saying that the deadline is why llmport did not wait and try again."""
    hinted = error.retry_after is not None and error.retry_after >= wait > 0
    what = (
        f"Retry-After {error.retry_after:g} s" if hinted else f"the wait before the next retry ({wait:.1f} s)"
    )
    why = f"{what} exceeds what is left of the deadline ({max(left, 0.0):.1f} s); not waited"
    # A scripted error may be raised again (fakes, a cache): say it once.
    if "exceeds what is left of the deadline" not in error.message:
        error.message = f"{error.message}; {why}"
        error.args = (error.message,)
    return error


def _scoped(operation: Callable[[], T], options: CallOptions) -> Callable[[], T]:
    """``operation`` run with ``options`` as the current call options (per-call timeout, headers)."""

    def scoped() -> T:
        with call_options_scope(options):
            return operation()

    return scoped
