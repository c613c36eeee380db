"""ReplyCache: the caching policy's side of a CacheStore: bounded, never failing, single flight."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..domain.call_options import CallOptions
from ..domain.deadline import Deadline, deadline_scope
from ..domain.ports import CacheStore
from .cache_codec import decode, encode, input_keys, key_of, scope_json
from .cache_memo import DecodedMemo, Shape

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
    # The scope's JSON by namespace (written once, not per call), and the hits decoded lately.
    _scopes: dict[str, str | None] = field(default_factory=dict, init=False, repr=False)
    _memo: DecodedMemo = field(default_factory=DecodedMemo, init=False, repr=False)

    def enabled(self, options: CallOptions | None) -> bool:
        """False when the call opted out (``cache=False``)."""
        return options is None or options.cache is not False

    def key(
        self, kind: str, request: Any, options: CallOptions | None, *, model: str | None = None
    ) -> str | None:
        """The key of ``request`` in this scope and the call's namespace (``model``: the one of a
        request that names none); None when it cannot be keyed."""
        scope = self._scope(options)
        return None if scope is None else key_of(kind, scope, request, model=model)

    def input_keys(
        self, kind: str, shape: Mapping[str, Any], inputs: Sequence[Any], options: CallOptions | None
    ) -> list[str] | None:
        """The key of each input (with ``shape``: model, dimensions); None when one cannot be keyed."""
        scope = self._scope(options)
        return None if scope is None else input_keys(kind, scope, shape, inputs)

    def _scope(self, options: CallOptions | None) -> str | None:
        namespace = self.namespace
        if options is not None and options.cache_namespace is not None:
            namespace = options.cache_namespace
        try:
            return self._scopes[namespace]
        except KeyError:
            pass
        if len(self._scopes) >= 64:  # namespaces per call are the caller's: keep a few
            self._scopes.clear()
        scope = self._scopes[namespace] = scope_json({**self.scope, "namespace": namespace})
        return scope

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

    def get_many(
        self, keys: Sequence[str], deadline: Deadline | None, shape: Shape | None = None
    ) -> list[Any]:
        """The decoded value of each key, or the hit ``shape`` makes of it (the same value again
        while the store holds the same bytes, when nothing in it can change: ``DecodedMemo``);
        None for a miss, a failure or garbage."""
        try:
            with deadline_scope(deadline):
                found = self.store.get_many(keys)
        except Exception as error:  # a store never fails a call: a miss
            self._note(error)
            return [None] * len(keys)
        if len(found) != len(keys):
            return [None] * len(keys)
        return self._decoded(keys, found, shape)

    def _decoded(self, keys: Sequence[str], found: Sequence[bytes | None], shape: Shape | None) -> list[Any]:
        if shape is not None:
            memo = self._memo
            return [memo.hit(key, value, shape) for key, value in zip(keys, found, strict=True)]
        return [decode(value) for value in found]

    def put_many(
        self, values: Mapping[str, Any], deadline: Deadline | None, *, release: str | None = None
    ) -> None:
        """Store each value that can be encoded, and give the claim ``release`` back in the same
        round trip; failures are logged once and dropped."""
        items = {key: data for key, value in values.items() if (data := encode(value)) is not None}
        if not items:
            if release is not None:
                self.release(release, deadline)
            return
        try:
            with deadline_scope(deadline):
                if release is None:
                    self.store.set_many(items, self.ttl)
                else:
                    self.store.set_many(items, self.ttl, release=release)
        except Exception as error:  # a store never fails a call
            self._note(error)
            if release is not None:
                self.release(release, deadline)

    def claim_and_get(
        self,
        flight: str,
        keys: Sequence[str],
        deadline: Deadline | None,
        share: Deadline | None,
        shape: Shape | None = None,
    ) -> tuple[bool, list[Any]]:
        """Whether this caller computes ``flight`` (held for the call's time left, at most
        ``CLAIM_CAP``), and ``keys`` read just after (as ``get_many`` gives them): one round trip,
        bounded by ``share``. A failing store says True and misses."""
        seconds = CLAIM_CAP if deadline is None else max(0.001, min(CLAIM_CAP, deadline.remaining()))
        try:
            with deadline_scope(share):
                claimed, found = self.store.claim_and_get(flight, keys, seconds)
        except Exception as error:
            self._note(error)
            return True, [None] * len(keys)
        if len(found) != len(keys):
            return bool(claimed), [None] * len(keys)
        return bool(claimed), self._decoded(keys, found, shape)

    def release(self, key: str, deadline: Deadline | None) -> None:
        """Give the claim back; a failure only expires it later."""
        try:
            with deadline_scope(deadline):
                self.store.release(key)
        except Exception as error:
            self._note(error)

    def flight(
        self,
        keys: Sequence[str],
        flight: str,
        deadline: Deadline | None,
        share: Deadline | None,
        shape: Shape | None = None,
    ) -> tuple[list[Any] | None, bool]:
        """Take the claim ``flight`` to compute ``keys`` (missing at the last look), or wait for the
        caller who holds it, until ``share`` (the cache's part of the call) or ``CLAIM_CAP``.

        Returns the values (as ``get_many`` with ``shape`` gives them) when every one is there
        (else None), and whether this caller holds the claim: then it computes them and gives the
        claim back (``put_many(..., release=flight)`` or ``release``). Each look is one round trip
        (``claim_and_get``): the values are read again just after the claim was taken, so a reply
        stored just before it was given back is not asked twice. A waiter takes the claim when its
        holder gave it back without the values (its call failed) or it ran out (its process
        died); the others wait for the new holder.
        """
        budget = CLAIM_CAP if share is None else min(CLAIM_CAP, share.remaining())
        until = self.clock() + budget
        while True:
            claimed, values = self.claim_and_get(flight, keys, deadline, share, shape)
            if all(value is not None for value in values):
                if claimed:
                    self.release(flight, deadline)
                return values, False
            if claimed:
                return None, True
            if self.clock() >= until:
                return None, False
            self.sleep(min(POLL_INTERVAL, max(0.0, until - self.clock())))

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
