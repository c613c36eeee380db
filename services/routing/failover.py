"""Which failures move a routed call to the next deployment, each failure settled with the store.

The rules (each is one branch of :meth:`Failover.moves`): a 429 cools its deployment until its
Retry-After and moves; so do a 408, a 5xx, a connection that could not be made and a stream that
broke before its first chunk. A timeout or a lost connection on a sent request does not move by
default: the provider may have done (and billed) the work; ``move_after_timeout=True`` moves it.
A send the call's deadline cut short is nobody's failure and does not move. Everything else
(400, 401, 403, 404, quota) is the caller's to see at once, except that a 401 is sent to the same
deployment once more when it got a new token. A call never moves past its deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ...domain.budget import Reservation
from ...domain.deadline import current_deadline
from ...domain.errors import (
    AuthenticationError,
    ConnectionFailedError,
    LLMPortError,
    RateLimitedError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from ...domain.ports import BudgetStore
from .plan import Deployment, log_event

__all__ = ["Failover", "Moved", "not_past_deadline", "out_of_time", "renewed", "unrouted"]

T = TypeVar("T")

#: Seconds before a deadline when a timed-out send counts as cut by it (the clocks read apart).
_DEADLINE_SLACK = 0.01


@dataclass(frozen=True, slots=True)
class Moved:
    """A send that failed in a way that moves the call on; ``waits`` holds its retry hint."""

    error: LLMPortError
    waits: list[float]


@dataclass(frozen=True, slots=True)
class Failover:
    """A router's rules for a failed send, and the store they settle it with.

    Args:
        store: the budget store the failed reservation is settled with.
        clock: the store's clock, for cooldowns.
        default_cooldown: seconds a 429 without a Retry-After cools its deployment.
        move_after_timeout: move a call whose sent request timed out or lost its connection.
    """

    store: BudgetStore
    clock: Callable[[], float]
    default_cooldown: float
    move_after_timeout: bool

    def after(
        self,
        deployment: Deployment,
        answer: Reservation,
        send: Callable[[Deployment], T],
        error: BaseException,
        *,
        forget: Callable[[], object],
    ) -> T | Moved:
        """A send on ``deployment`` raised ``error``: the reply of a resend with a new token, or
        what moves the call on, with the failure settled; raises what must not move.

        Args:
            forget: drops the router's last view of the store, which a failure changed.
        """
        if isinstance(error, AuthenticationError) and renewed(deployment, error):
            try:
                return send(deployment)  # once more, with the deployment's new token
            except BaseException as again:  # handled below, as the first would be
                error = again
        if not isinstance(error, LLMPortError):
            self.store.fail(answer, counts=False)
            raise error
        error.deployment = deployment.name
        forget()
        if not self.moves(answer, deployment, error):
            raise error
        hinted = isinstance(error, RateLimitedError) and error.retry_after is not None
        return Moved(error, [error.retry_after] if hinted and error.retry_after is not None else [])

    def moves(self, reservation: Reservation, deployment: Deployment, error: LLMPortError) -> bool:
        """Settle a failed send with the store; return whether the call moves to the next deployment."""
        store = self.store
        if isinstance(error, RateLimitedError):
            # Rule: a 429 is a busy deployment, not a broken one: cool it, do not count it.
            wait = error.retry_after if error.retry_after is not None else self.default_cooldown
            store.fail(reservation, cool_until=self.clock() + wait, counts=False)
            log_event("cooled", deployment, logging.WARNING, seconds=wait)
            moves = True
        elif out_of_time(error):
            # Rule: a send the call's deadline cut short is the deadline's doing, not the
            # deployment's failure: counted nowhere, never ejecting it, and nothing moves.
            store.fail(reservation, counts=False)
            moves = False
        elif isinstance(error, ConnectionFailedError) and error.sent and error.status_code != 408:
            # Rule: a sent request that timed out or lost its connection may have done (and
            # billed) the work; it moves only when the user said so, and then neither does the
            # Retrier send it again (its next attempt would go to another deployment).
            moves = self.move_after_timeout
            error.retryable = error.retryable and moves
            _ejected_if(store.fail(reservation), deployment)
        elif isinstance(error, (ServiceUnavailableError, ConnectionFailedError)) or (
            isinstance(error, StreamInterruptedError) and error.retryable
        ):
            # Rule: 5xx, 408, a connection never made, a stream broken before its first chunk:
            # nothing was served, another deployment may serve it.
            moves = True
            _ejected_if(store.fail(reservation), deployment)
        else:
            # Rule: the request or the account is at fault; another deployment would say the same.
            store.fail(reservation, counts=False)
            moves = False
        if moves:
            log_event("failed_over", deployment, logging.WARNING, error=type(error).__name__)
        return moves


def _ejected_if(health: str, deployment: Deployment) -> None:
    if health == "open":
        log_event("ejected", deployment, logging.WARNING)


def renewed(deployment: Deployment, error: AuthenticationError) -> bool:
    """Rule: a send that got a 401 goes once more when the deployment got a new token for it."""
    renew = deployment.reauthenticate
    if error.status_code != 401 or renew is None or not renew(error):
        return False
    log_event("reauthenticated", deployment, logging.INFO)
    return True


def unrouted(waits: list[float], last_error: LLMPortError | None) -> LLMPortError:
    """What a call no deployment served raises: the last one's error, or when one will have room."""
    if last_error is not None and not waits:
        return last_error
    return _no_room(waits, last_error)


def _no_room(waits: list[float], last_error: LLMPortError | None) -> RateLimitedError:
    wait = min(waits)
    if wait == float("inf"):
        return RateLimitedError(
            "the call needs more tokens than any deployment's tokens-per-minute budget",
            code="no_budget",
            retryable=False,
        )
    after = f" (the last one failed: {type(last_error).__name__})" if last_error is not None else ""
    return RateLimitedError(
        f"no deployment has room for this call now{after}; retry after {wait:.2f} s",
        code="no_budget",
        retry_after=wait,
    )


def out_of_time(error: LLMPortError) -> bool:
    """Whether ``error`` is a send cut short because the call's deadline passed."""
    deadline = current_deadline()
    return (
        isinstance(error, ConnectionFailedError)
        and deadline is not None
        and deadline.remaining() <= _DEADLINE_SLACK
    )


def not_past_deadline(last_error: LLMPortError) -> None:
    """Rule: a call is never moved past its deadline (the last deployment's error is raised)."""
    deadline = current_deadline()
    if deadline is not None and deadline.remaining() <= 0:
        raise last_error from None
