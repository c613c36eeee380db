"""The Router: one ChatPort and EmbeddingPort over several deployments, with shared rate budgets.

One call, one attempt of the Retrier (``services/retry.py``, the one retry owner)::

    a lane open? take from the lease its store lent (no store call), else reserve without a read
              send -> reply? settle, done | refused or moved? end the lane, plan the others
    order the deployments by the store's last answer (plan.py)
    for each: reserve + read all (one round trip) -> refused? re-plan from what was read
              send -> reply? reconcile, done | failure? fail, move or raise
    none could take it -> RateLimitedError(retry_after = the shortest wait): the Retrier waits

Its lanes (where calls go with no plan while nothing changes) are in ``lane.py``; which failures
move a call to the next deployment, in ``failover.py``. The Router never sends the same call to
the same deployment twice and never starts a send after the deadline; waiting for room is the
Retrier's job, bounded by the same policy and deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar, cast

from ...domain.budget import Lease, RateHint, Refusal, Remaining, Reservation
from ...domain.errors import ConfigurationError, LLMPortError
from ...domain.models import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from ...domain.ports import BudgetStore, ChatPort, Closeable, EmbeddingPort, ForkAware, TokenCounter
from ...domain.replies import served_by
from .failover import Failover, Moved, not_past_deadline, out_of_time, unrouted
from .lane import FOREVER, Lane, alone, opened
from .plan import (
    LOGGER,
    VIEW_LIFETIME,
    Deployment,
    Kind,
    Plan,
    addressed,
    charged,
    log_event,
    plan,
)
from .sizing import Sizer

__all__ = ["VIEW_LIFETIME", "Deployment", "Router"]

T = TypeVar("T")


class Router:
    """A ChatPort and EmbeddingPort that sends each call to the best deployment with room for it.

    Args:
        deployments: where calls may go; at least one.
        store: the budget store (``MemoryBudgetStore``, or ``RedisBudgetStore`` shared by processes).
        clock: the store's clock, for cooldowns; by default the store's own ``clock``.
        default_max_tokens: what a chat call reserves for its reply when it sets no max_tokens.
        default_cooldown: seconds a 429 without a Retry-After cools its deployment.
        move_after_timeout: move a call whose sent request timed out or lost its connection (it may
            then be billed twice).
        on_close: called by ``close()`` after the adapters are closed (e.g. to close the store).
        parts: other things the deployments use (credentials, token caches) told about a fork.
        counter: counts each call's tokens, reserved and fitted to windows (``sizing.py``); None: estimates.

    Raises:
        ConfigurationError: no deployments, or two with one name.
    """

    def __init__(
        self,
        deployments: Sequence[Deployment],
        *,
        store: BudgetStore,
        clock: Callable[[], float] | None = None,
        default_max_tokens: int = 256,
        default_cooldown: float = 1.0,
        move_after_timeout: bool = False,
        on_close: Callable[[], None] | None = None,
        parts: Sequence[object] = (),
        counter: TokenCounter | None = None,
    ) -> None:
        names = [deployment.name for deployment in deployments]
        if not names:
            raise ConfigurationError("a Router needs at least one deployment")
        if len(set(names)) != len(names):
            raise ConfigurationError(f"deployment names must differ, got {names}")
        self._deployments = tuple(deployments)
        self._store = store
        self._clock = store.clock if clock is None else clock
        self._sizer = Sizer(counter, default_max_tokens)
        self._failover = Failover(store, self._clock, default_cooldown, move_after_timeout)
        self._on_close = on_close
        self._parts = tuple(parts)
        kinds: tuple[Kind, ...] = ("chat", "embeddings")
        self._serving = {kind: tuple(d for d in self._deployments if d.serves(kind)) for kind in kinds}
        self._limits = {kind: tuple(d.limits for d in self._serving[kind]) for kind in kinds}
        self._best_priority = {
            kind: min((d.priority for d in self._serving[kind]), default=0) for kind in kinds
        }
        # What the store said after the last call, per kind: the next call's plan (see _route).
        self._views: dict[Kind, tuple[float, dict[str, Remaining]]] = {}
        # Where a kind's calls go with no plan while nothing changes (see _route and lane.py):
        # its one deployment, for good, or the first of the last plan, for a while.
        self._lanes: dict[Kind, Lane] = alone(self._serving)

    @property
    def deployments(self) -> tuple[Deployment, ...]:
        """The deployments, as configured."""
        return self._deployments

    def __repr__(self) -> str:
        return f"Router({[deployment.name for deployment in self._deployments]})"

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Return the reply of the first deployment that takes the call.

        Raises:
            ContextLengthExceededError: no deployment's context window fits it (nothing sent).
            RateLimitedError: no deployment has room now; ``retry_after`` says when one will.
            LLMPortError: the last deployment's error, or one that must not move.
        """
        sized = self._sizer.chat(request, self._serving["chat"])

        def send(deployment: Deployment) -> ChatResponse:
            return cast(ChatPort, deployment.adapter).complete(addressed(request, deployment, "chat"))

        reserved, deployment, reply = self._route("chat", sized.tokens, send, sized.too_small)
        used = charged(sized.tokens, sized.completion, reply.usage)
        self._settled(reserved, deployment, sized.tokens, used, reply.rate_limits)
        return reply if reply.deployment == deployment.name else served_by(reply, deployment.name)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Return the vectors of the first deployment that takes the call (see ``complete``)."""
        tokens = self._sizer.embedding(request, self._serving["embeddings"])

        def send(deployment: Deployment) -> EmbeddingResponse:
            return cast(EmbeddingPort, deployment.adapter).embed(addressed(request, deployment, "embeddings"))

        reserved, deployment, reply = self._route("embeddings", tokens, send)
        used = reply.usage.total_tokens or reply.usage.prompt_tokens or tokens
        self._settled(reserved, deployment, tokens, used, reply.rate_limits)
        return reply if reply.deployment == deployment.name else served_by(reply, deployment.name)

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Yield the reply of the first deployment whose stream starts; nothing is sent before ``next()``.

        A stream moves to another deployment only before its first chunk.
        """
        sized = self._sizer.chat(request, self._serving["chat"])  # on the first next(), as the sending
        tokens, completion = sized.tokens, sized.completion

        def send(deployment: Deployment) -> tuple[ChatChunk | None, Iterator[ChatChunk]]:
            chunks = cast(ChatPort, deployment.adapter).stream(addressed(request, deployment, "chat"))
            return next(chunks, None), chunks

        reserved, deployment, (first, chunks) = self._route("chat", tokens, send, sized.too_small)
        used, settled = tokens, False
        hint = None if first is None else first.rate_limits
        try:
            chunk = first
            while chunk is not None:
                if chunk.usage is not None:
                    used = charged(tokens, completion, chunk.usage)
                yield chunk if chunk.deployment == deployment.name else served_by(chunk, deployment.name)
                chunk = next(chunks, None)
        except LLMPortError as error:
            # Rule: after the first chunk nothing moves; the failure still counts against the deployment.
            settled = True
            failed = reserved if isinstance(reserved, Reservation) else reserved.reservation(tokens)
            self._store.fail(failed, counts=not out_of_time(error))
            error.deployment = deployment.name
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            if not settled:
                self._settled(reserved, deployment, tokens, used, hint)

    def close(self) -> None:
        """Close every deployment's adapter that holds connections, then run ``on_close``."""
        for deployment in self._deployments:
            if isinstance(deployment.adapter, Closeable):
                deployment.adapter.close()
        if self._on_close is not None:
            self._on_close()

    def after_fork(self) -> None:
        """In a forked child: each adapter and the store drop what is the parent's (the lanes' leases too)."""
        self._lanes = alone(self._serving)
        for part in (*(deployment.adapter for deployment in self._deployments), self._store, *self._parts):
            if isinstance(part, ForkAware):
                part.after_fork()

    def _settled(
        self,
        reserved: Reservation | Lease,
        deployment: Deployment,
        tokens: int,
        used: int,
        hint: RateHint | None,
    ) -> None:
        """Settle a call that took ``tokens`` and used ``used`` (on its lease while it is open)."""
        if isinstance(reserved, Lease):
            if reserved.settle(used - tokens, hint):
                return
            reserved = reserved.reservation(tokens)  # it has closed: the store settles it
        self._store.reconcile(reserved, used, hint)
        if reserved.probe:  # its reply came: the store has closed the deployment's circuit
            self._views.clear()  # they saw the probe out: read the deployment restored afresh
            self._lanes = alone(self._serving)  # and plan again with it
            log_event("restored", deployment, logging.WARNING)

    def _route(
        self, kind: Kind, tokens: int, send: Callable[[Deployment], T], skip: frozenset[str] = frozenset()
    ) -> tuple[Reservation | Lease, Deployment, T]:
        if skip:  # a call too long for some windows: a plan over the others, and no lane after
            return self._planned(kind, tokens, send, tried=set(skip), waits=[], lane=False)
        lane = self._lanes.get(kind)
        now = self._clock()
        if lane is None or not lane.since <= now < lane.until:  # (a clock stepped back ends it too)
            return self._planned(kind, tokens, send, tried=set(), waits=[])
        # The steady state: the deployments the last plan put first (its group's, taking turns),
        # on room their store lent, or reserved on without a read.
        index = 0 if len(lane.members) == 1 else lane.next_turn(tokens)
        deployment, lease = lane.members[index], lane.leases[index]
        reserved: Reservation | Lease
        if lease is not None and lease.take(tokens, now):
            if lane.spilled:
                log_event("spilled", deployment, from_priority=self._best_priority[kind])
            if LOGGER.isEnabledFor(logging.DEBUG):
                log_event("chosen", deployment, logging.DEBUG, tokens=tokens, probe=False)
            reserved = lease
            try:
                return reserved, deployment, send(deployment)
            except BaseException as error:  # settled and raised again, or moved
                outcome = self._failed_send(kind, deployment, lease.reservation(tokens), send, error=error)
        else:
            answer, _ = self._store.reserve_and_read(deployment.limits, tokens, ())
            if isinstance(answer, Refusal):
                log_event("skipped", deployment, reason=answer.reason, wait=answer.wait)
                self._left(kind, lane)
                return self._planned(kind, tokens, send, tried={deployment.name}, waits=[answer.wait])
            lane.leases[index] = None if answer.probe else answer.lease
            reserved = answer
            outcome = self._attempt(kind, deployment, answer, send)
        if not isinstance(outcome, Moved):
            return reserved, deployment, outcome
        self._left(kind, lane)
        return self._planned(
            kind, tokens, send, tried={deployment.name}, waits=outcome.waits, last_error=outcome.error
        )

    def _left(self, kind: Kind, lane: Lane) -> None:
        """End a lane one of its deployments refused or failed (one deployment's lane never ends)."""
        if lane.until != FOREVER and self._lanes.get(kind) is lane:
            self._lanes.pop(kind, None)
        lane.leases = [None] * len(lane.members)

    def _planned(
        self,
        kind: Kind,
        tokens: int,
        send: Callable[[Deployment], T],
        *,
        tried: set[str],
        waits: list[float],
        last_error: LLMPortError | None = None,
        lane: bool = True,
    ) -> tuple[Reservation, Deployment, T]:
        """Route a call by a plan, past the deployments ``tried`` already (their waits, last error)."""
        serving, limits = self._serving[kind], self._limits[kind]
        if not serving:
            raise ConfigurationError(f"no deployment of this router serves {kind} calls")
        if len(tried) == len(serving):  # the lane's one deployment could not
            raise unrouted(waits, last_error) from None
        order, view, elapsed, stale = self._first_plan(kind, tried)
        while True:
            replan = False
            for deployment in order.order:
                if last_error is not None:
                    not_past_deadline(last_error)
                tried.add(deployment.name)
                answer, read = self._store.reserve_and_read(deployment.limits, tokens, limits)
                if read is not view:  # a new read (not the one a lease repeats): plan from it next
                    view, elapsed = read, 0.0
                    self._views[kind] = (self._clock(), read)
                if isinstance(answer, Refusal):
                    log_event("skipped", deployment, reason=answer.reason, wait=answer.wait)
                    waits.append(answer.wait)
                    if stale:  # the old view misled: plan again from what was just read
                        stale = replan = True
                        break
                    continue
                outcome = self._attempt(kind, deployment, answer, send)
                if not isinstance(outcome, Moved):
                    lane_waits = None if last_error is not None or not lane else waits
                    self._lane_after(
                        kind, order, answer, deployment, view=view, elapsed=elapsed, waits=lane_waits
                    )
                    return answer, deployment, outcome
                last_error = outcome.error
                waits += outcome.waits
            else:
                if stale:  # the old view offered nobody left to try: ask the store itself once
                    replan = True
                    view, elapsed = self._store.remaining(limits), 0.0
            stale = False
            if not replan:
                break
            order = plan(self._untried(kind, tried), view, elapsed)
        waits += order.waits
        raise unrouted(waits, last_error) from None

    def _lane_after(
        self,
        kind: Kind,
        order: Plan,
        answer: Reservation,
        served: Deployment,
        *,
        view: dict[str, Remaining],
        elapsed: float,
        waits: list[float] | None,
    ) -> None:
        """Open a lane to ``served`` and its group when the plan put it first (``lane.opened``).

        No lane after a deployment failed on this call (``waits`` None): the next call tries it again.
        """
        if waits is None:
            return
        best = self._best_priority[kind]
        lane = opened(
            order,
            answer,
            served,
            view=view,
            elapsed=elapsed,
            waits=waits,
            clock=self._clock,
            best_priority=best,
        )
        if lane is not None:
            self._lanes[kind] = lane

    def _first_plan(self, kind: Kind, tried: set[str]) -> tuple[Plan, dict[str, Remaining], float, bool]:
        """The call's plan, from the store's last answer while it is recent, else from a read;
        past the deployments ``tried`` already (a lane's), always from a read.

        The order comes from the store's answer to the previous call, so that a call costs one
        round trip: reserve on the first choice and read everyone's budget left in one go. A
        stale view never over-grants (each reservation is checked atomically); after a refusal,
        or when it offers nobody, the call is planned again from a fresh view.

        Returns:
            the plan, the view, its age in seconds, and whether it is the last answer (not a read).
        """
        last = self._views.get(kind)
        if last is None and not tried:
            # The first call plans by priority alone and reads everyone's budget with its
            # reservation: one round trip, not two, for a client just built.
            return plan(self._serving[kind], {}), {}, 0.0, True
        elapsed = -1.0 if last is None else self._clock() - last[0]
        if tried or last is None or not 0 <= elapsed <= VIEW_LIFETIME:
            view = self._store.remaining(self._limits[kind])
            self._views[kind] = (self._clock(), view)
            return plan(self._untried(kind, tried), view), view, 0.0, False
        view = last[1]
        return plan(self._serving[kind], view, elapsed, probing_unknown=True), view, elapsed, True

    def _untried(self, kind: Kind, tried: set[str]) -> list[Deployment]:
        """The deployments serving ``kind`` calls that this call has not tried, in their order."""
        return [deployment for deployment in self._serving[kind] if deployment.name not in tried]

    def _attempt(
        self, kind: Kind, deployment: Deployment, answer: Reservation, send: Callable[[Deployment], T]
    ) -> T | Moved:
        """Send on ``deployment``: its reply, or what moves the call on; raises what must not move."""
        if deployment.priority > self._best_priority[kind]:
            log_event("spilled", deployment, from_priority=self._best_priority[kind])
        if LOGGER.isEnabledFor(logging.DEBUG):
            log_event("chosen", deployment, logging.DEBUG, tokens=answer.tokens, probe=answer.probe)
        try:
            return send(deployment)
        except BaseException as error:  # settled and raised again, or moved
            return self._failed_send(kind, deployment, answer, send, error=error)

    def _failed_send(
        self,
        kind: Kind,
        deployment: Deployment,
        answer: Reservation,
        send: Callable[[Deployment], T],
        *,
        error: BaseException,
    ) -> T | Moved:
        """A send on ``deployment`` raised ``error``: see ``Failover.after``."""
        return self._failover.after(
            deployment, answer, send, error, forget=lambda: self._views.pop(kind, None)
        )
