"""The Router: one ChatPort and EmbeddingPort over several deployments, with shared rate budgets.

One call, one attempt of the Retrier (``services/retry.py``, the one retry owner)::

    read the store once -> order the deployments (services/routing_plan.py)
    for each: reserve -> refused? next | send -> reply? reconcile, done | failure? fail, move or raise
    none could take it -> RateLimitedError(retry_after = the shortest wait): the Retrier waits

The Router never sends the same call to the same deployment twice and never starts a send after
the deadline; waiting for room is the Retrier's job, bounded by the same policy and deadline.

Which failures move a call to the next deployment (each is a rule below):
429 (cooled until its Retry-After), 408, 5xx, a connection that could not be made, a stream that
broke before its first chunk. A timeout or a lost connection on a sent request does not move by
default: the provider may have done (and billed) the work; ``move_after_timeout=True`` moves it.
Everything else (400, 401, 403, 404, quota) is the caller's to see at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TypeVar, cast

from ..domain.budget import BudgetStore, RateHint, Refusal, Reservation
from ..domain.deadline import current_deadline
from ..domain.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    LLMPortError,
    RateLimitedError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from ..domain.models import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from ..domain.ports import ChatPort, Closeable, EmbeddingPort, ForkAware
from .routing_plan import Deployment, Kind, estimate_chat, estimate_embedding, log_event, plan

__all__ = ["Deployment", "Router"]

T = TypeVar("T")


class Router:
    """A ChatPort and EmbeddingPort that sends each call to the best deployment with room for it.

    Args:
        deployments: where calls may go; at least one.
        store: the budget store (``MemoryBudgetStore``, or ``RedisBudgetStore`` shared by processes).
        clock: the store's clock (seconds, ``time.time`` by default), for cooldowns.
        default_max_tokens: a chat call's completion estimate when the request sets no max_tokens.
        default_cooldown: seconds a 429 without a Retry-After cools its deployment.
        move_after_timeout: move a call whose sent request timed out or lost its connection (it may
            then be billed twice).
        on_close: called by ``close()`` after the adapters are closed (e.g. to close the store).
        parts: other things the deployments use (credentials, token caches) told about a fork.

    Raises:
        ConfigurationError: no deployments, or two with one name.
    """

    def __init__(
        self,
        deployments: Sequence[Deployment],
        *,
        store: BudgetStore,
        clock: Callable[[], float] = time.time,
        default_max_tokens: int = 256,
        default_cooldown: float = 1.0,
        move_after_timeout: bool = False,
        on_close: Callable[[], None] | None = None,
        parts: Sequence[object] = (),
    ) -> None:
        names = [deployment.name for deployment in deployments]
        if not names:
            raise ConfigurationError("a Router needs at least one deployment")
        if len(set(names)) != len(names):
            raise ConfigurationError(f"deployment names must differ, got {names}")
        self._deployments = tuple(deployments)
        self._store = store
        self._clock = clock
        self._default_max_tokens = default_max_tokens
        self._default_cooldown = default_cooldown
        self._move_after_timeout = move_after_timeout
        self._on_close = on_close
        self._parts = tuple(parts)

    @property
    def deployments(self) -> tuple[Deployment, ...]:
        """The deployments, as configured."""
        return self._deployments

    def __repr__(self) -> str:
        return f"Router({[deployment.name for deployment in self._deployments]})"

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Return the reply of the first deployment that takes the call.

        Raises:
            RateLimitedError: no deployment has room now; ``retry_after`` says when one will.
            LLMPortError: the last deployment's error, or one that must not move.
        """
        tokens = estimate_chat(request, self._default_max_tokens)

        def send(deployment: Deployment) -> ChatResponse:
            return cast(ChatPort, deployment.adapter).complete(_for(request, deployment, "chat"))

        reservation, deployment, reply = self._route("chat", tokens, send)
        self._settled(reservation, deployment, reply.usage.total_tokens or tokens, reply.rate_limits)
        return replace(reply, deployment=deployment.name)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Return the vectors of the first deployment that takes the call (see ``complete``)."""
        tokens = estimate_embedding(request)

        def send(deployment: Deployment) -> EmbeddingResponse:
            return cast(EmbeddingPort, deployment.adapter).embed(_for(request, deployment, "embeddings"))

        reservation, deployment, reply = self._route("embeddings", tokens, send)
        used = reply.usage.total_tokens or reply.usage.prompt_tokens or tokens
        self._settled(reservation, deployment, used, reply.rate_limits)
        return replace(reply, deployment=deployment.name)

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Yield the reply of the first deployment whose stream starts; nothing is sent before ``next()``.

        A stream moves to another deployment only before its first chunk.
        """
        tokens = estimate_chat(request, self._default_max_tokens)

        def send(deployment: Deployment) -> tuple[ChatChunk | None, Iterator[ChatChunk]]:
            chunks = cast(ChatPort, deployment.adapter).stream(_for(request, deployment, "chat"))
            return next(chunks, None), chunks

        reservation, deployment, (first, chunks) = self._route("chat", tokens, send)
        used, settled = tokens, False
        hint = None if first is None else first.rate_limits
        try:
            chunk = first
            while chunk is not None:
                if chunk.usage is not None and chunk.usage.total_tokens:
                    used = chunk.usage.total_tokens
                yield replace(chunk, deployment=deployment.name)
                chunk = next(chunks, None)
        except LLMPortError as error:
            # Rule: after the first chunk nothing moves; the failure still counts against the deployment.
            settled = True
            self._store.fail(reservation)
            error.deployment = deployment.name
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            if not settled:
                self._settled(reservation, deployment, used, hint)

    def close(self) -> None:
        """Close every deployment's adapter that holds connections, then run ``on_close``."""
        for deployment in self._deployments:
            if isinstance(deployment.adapter, Closeable):
                deployment.adapter.close()
        if self._on_close is not None:
            self._on_close()

    def after_fork(self) -> None:
        """In a forked child: each adapter and the store drop what is the parent's."""
        for part in (*(deployment.adapter for deployment in self._deployments), self._store, *self._parts):
            if isinstance(part, ForkAware):
                part.after_fork()

    def _settled(
        self, reservation: Reservation, deployment: Deployment, used: int, hint: RateHint | None
    ) -> None:
        self._store.reconcile(reservation, used, hint)
        if reservation.probe:
            log_event("restored", deployment, logging.WARNING)

    def _route(
        self, kind: Kind, tokens: int, send: Callable[[Deployment], T]
    ) -> tuple[Reservation, Deployment, T]:
        serving = [deployment for deployment in self._deployments if deployment.serves(kind)]
        if not serving:
            raise ConfigurationError(f"no deployment of this router serves {kind} calls")
        order = plan(serving, self._store.remaining([deployment.limits for deployment in serving]))
        waits = list(order.waits)
        last_error: LLMPortError | None = None
        for deployment in order.order:
            deadline = current_deadline()
            if last_error is not None and deadline is not None and deadline.remaining() <= 0:
                # Rule: a call is never moved past its deadline.
                raise last_error from None
            answer = self._store.reserve(deployment.limits, tokens)
            if isinstance(answer, Refusal):
                log_event("skipped", deployment, reason=answer.reason, wait=answer.wait)
                waits.append(answer.wait)
                continue
            if order.best_priority is not None and deployment.priority > order.best_priority:
                log_event("spilled", deployment, from_priority=order.best_priority)
            log_event("chosen", deployment, logging.DEBUG, tokens=tokens, probe=answer.probe)
            try:
                return answer, deployment, self._sent(deployment, send)
            except LLMPortError as error:
                error.deployment = deployment.name
                if not self._failed(answer, deployment, error):
                    raise
                last_error = error
                if isinstance(error, RateLimitedError) and error.retry_after is not None:
                    waits.append(error.retry_after)
            except BaseException:
                self._store.fail(answer, counts=False)
                raise
        if last_error is not None and not waits:
            raise last_error from None
        raise _no_room(waits, last_error)

    def _sent(self, deployment: Deployment, send: Callable[[Deployment], T]) -> T:
        """``send(deployment)``; after a 401, once more if the deployment got a new token."""
        try:
            return send(deployment)
        except AuthenticationError as error:
            renew = deployment.reauthenticate
            if error.status_code != 401 or renew is None or not renew(error):
                raise
            log_event("reauthenticated", deployment, logging.INFO)
        return send(deployment)

    def _failed(self, reservation: Reservation, deployment: Deployment, error: LLMPortError) -> bool:
        """Settle a failed send with the store; return whether the call moves to the next deployment."""
        name = type(error).__name__
        if isinstance(error, RateLimitedError):
            # Rule: a 429 is a busy deployment, not a broken one: cool it, do not count it.
            wait = error.retry_after if error.retry_after is not None else self._default_cooldown
            self._store.fail(reservation, cool_until=self._clock() + wait, counts=False)
            log_event("cooled", deployment, logging.WARNING, seconds=wait)
            moves = True
        elif isinstance(error, ConnectionFailedError) and error.sent and error.status_code != 408:
            # Rule: a sent request that timed out or lost its connection may have done (and
            # billed) the work; it moves only when the user said so.
            moves = self._move_after_timeout
            self._ejected_if(self._store.fail(reservation), deployment)
        elif isinstance(error, (ServiceUnavailableError, ConnectionFailedError)) or (
            isinstance(error, StreamInterruptedError) and error.retryable
        ):
            # Rule: 5xx, 408, a connection never made, a stream broken before its first chunk:
            # nothing was served, another deployment may serve it.
            moves = True
            self._ejected_if(self._store.fail(reservation), deployment)
        else:
            # Rule: the request or the account is at fault; another deployment would say the same.
            self._store.fail(reservation, counts=False)
            moves = False
        if moves:
            log_event("failed_over", deployment, logging.WARNING, error=name)
        return moves

    def _ejected_if(self, health: str, deployment: Deployment) -> None:
        if health == "open":
            log_event("ejected", deployment, logging.WARNING)


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


RequestT = TypeVar("RequestT", ChatRequest, EmbeddingRequest)


def _for(request: RequestT, deployment: Deployment, kind: Kind) -> RequestT:
    model = deployment.model_for(kind)
    return request if model is None or model == request.model else replace(request, model=model)
