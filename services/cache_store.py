"""ReplyCache: the caching policy's side of a CacheStore: bounded, never failing, single flight."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..domain.call_options import CallOptions
from ..domain.deadline import Deadline, deadline_scope
from ..domain.ports import CacheStore
from .cache_codec import decode, encode, key_of

__all__ = ["CACHE_OUTCOME", "CLAIM_CAP", "POLL_INTERVAL", "ReplyCache", "cache_outcome"]

#: At most this many seconds a claim holds, and a waiter waits, when the call has no deadline.
CLAIM_CAP = 60.0
#: The pause between two looks for the value another caller is computing.
POLL_INTERVAL = 0.05

_log = logging.getLogger("llmport.cache")

#: ``miss`` while a call the cache missed runs in the services: their call event carries it.
CACHE_OUTCOME: ContextVar[str | None] = ContextVar("llmport_cache_outcome", default=None)


@contextmanager
def cache_outcome(value: str) -> Iterator[None]:
    """Make ``value`` the cache outcome the services log for the calls made in the block."""
    token = CACHE_OUTCOME.set(value)
    try:
        yield
    finally:
        CACHE_OUTCOME.reset(token)


@dataclass(slots=True)
class ReplyCache:
    """What the caching composites share: the store, the time-to-live and where calls go.

    Args:
        store: the CacheStore (memory or shared).
        ttl: seconds a reply is kept.
        scope: provider, base URL or endpoint, deployment and API: part of every key.
        namespace: the client's namespace (``cache_namespace``); a call's own wins.
        deadline: the client's deadline in seconds (a call's own wins), bounding the wait.
        clock: monotonic seconds (injected).
        sleep: the pause between looks (injected).
    """

    store: CacheStore
    ttl: float
    scope: Mapping[str, Any]
    namespace: str = ""
    deadline: float | None = None
    clock: Callable[[], float] = lambda: 0.0
    sleep: Callable[[float], None] = lambda seconds: None
    _failed: bool = False

    def enabled(self, options: CallOptions | None) -> bool:
        """False when the call opted out (``cache=False``)."""
        return options is None or options.cache is not False

    def key(self, kind: str, request: Any, options: CallOptions | None) -> str | None:
        """The key of ``request`` in this scope and the call's namespace; None when it cannot be keyed."""
        namespace = self.namespace
        if options is not None and options.cache_namespace is not None:
            namespace = options.cache_namespace
        return key_of(kind, {**self.scope, "namespace": namespace}, request)

    def deadline_of(self, options: CallOptions | None) -> Deadline | None:
        """When the call must be over, counted from now."""
        seconds = options.deadline if options is not None and options.deadline is not None else None
        seconds = self.deadline if seconds is None else seconds
        return None if seconds is None else Deadline(self.clock() + seconds, self.clock)

    def share(self, deadline: Deadline | None) -> Deadline | None:
        """The part of the call's time the cache may spend before the provider: half of what is left."""
        if deadline is None:
            return None
        return Deadline(self.clock() + max(0.0, deadline.remaining()) / 2, self.clock)

    def get_many(self, keys: Sequence[str], deadline: Deadline | None) -> list[Any]:
        """The decoded value of each key; None for a miss, a failure or garbage."""
        try:
            with deadline_scope(deadline):
                found = self.store.get_many(keys)
        except Exception as error:  # a store never fails a call: a miss
            self._note(error)
            return [None] * len(keys)
        if len(found) != len(keys):
            return [None] * len(keys)
        return [decode(value) for value in found]

    def put_many(self, values: Mapping[str, Any], deadline: Deadline | None) -> None:
        """Store each value that can be encoded; failures are logged once and dropped."""
        items = {key: data for key, value in values.items() if (data := encode(value)) is not None}
        if not items:
            return
        try:
            with deadline_scope(deadline):
                self.store.set_many(items, self.ttl)
        except Exception as error:  # a store never fails a call
            self._note(error)

    def claim(self, key: str, deadline: Deadline | None, share: Deadline | None) -> bool:
        """True when this caller computes ``key`` (held for the call's time left, at most
        ``CLAIM_CAP``; the round trip bounded by ``share``); a failing store says True."""
        seconds = CLAIM_CAP if deadline is None else max(0.001, min(CLAIM_CAP, deadline.remaining()))
        try:
            with deadline_scope(share):
                return bool(self.store.claim(key, seconds))
        except Exception as error:
            self._note(error)
            return True

    def release(self, key: str, deadline: Deadline | None) -> None:
        """Give the claim back; a failure only expires it later."""
        try:
            with deadline_scope(deadline):
                self.store.release(key)
        except Exception as error:
            self._note(error)

    def flight(
        self, keys: Sequence[str], flight: str, deadline: Deadline | None, share: Deadline | None
    ) -> tuple[list[Any] | None, bool]:
        """Take the claim ``flight`` to compute ``keys`` (missing at the last look), or wait for the
        caller who holds it, until ``share`` (the cache's part of the call) or ``CLAIM_CAP``.

        Returns the values when every one is there (else None), and whether this caller holds the
        claim: then it computes them and gives the claim back (``release``). A waiter takes the claim
        when its holder gave it back without the values (its call failed) or it ran out (its
        process died); the others wait for the new holder.
        """
        taken = self._take(keys, flight, deadline, share)
        if taken is not None:
            return taken
        budget = CLAIM_CAP if share is None else min(CLAIM_CAP, share.remaining())
        until = self.clock() + budget
        while self.clock() < until:
            self.sleep(min(POLL_INTERVAL, max(0.0, until - self.clock())))
            values = self.get_many(keys, share)
            if all(value is not None for value in values):
                return values, False
            taken = self._take(keys, flight, deadline, share)
            if taken is not None:
                return taken
        return None, False

    def _take(
        self, keys: Sequence[str], flight: str, deadline: Deadline | None, share: Deadline | None
    ) -> tuple[list[Any] | None, bool] | None:
        """None when another caller holds ``flight``; else the claim, or the values if they were
        stored just before it was given back (read again, so as not to ask twice)."""
        if not self.claim(flight, deadline, share):
            return None
        values = self.get_many(keys, share)
        if all(value is not None for value in values):
            self.release(flight, deadline)
            return values, False
        return None, True

    def close(self) -> None:
        """Close the store."""
        try:
            self.store.close()
        except Exception as error:
            self._note(error)

    def _note(self, error: Exception) -> None:
        # Logged once per client: a store that is down would otherwise log on every call.
        if not self._failed:
            self._failed = True
            _log.warning("reply cache store failed (%s); calls go on without it", type(error).__name__)
