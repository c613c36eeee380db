"""CachingChat: the reply cache in front of the chat service (so of the retry owner and the router)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from time import perf_counter
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from ..domain.call_options import CallOptions
from ..domain.deadline import Deadline
from ..domain.models import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from ..domain.ports import TelemetryPort
from .boundary import missing_model
from .cache_store import ReplyCache, cache_outcome
from .logging import CallLog
from .tracing import StreamTrace, reply_to_span

__all__ = ["CacheFront", "CachingChat", "ChatCalls", "EmbeddingCalls", "left_of_deadline"]


class ChatCalls(Protocol):
    """What the facade calls for chat: ChatService, or CachingChat in front of it."""

    def complete(self, request: ChatRequest, options: CallOptions | None = None) -> ChatResponse: ...

    def stream(self, request: ChatRequest, options: CallOptions | None = None) -> Iterator[ChatChunk]: ...

    def close(self) -> None: ...


class EmbeddingCalls(Protocol):
    """What the facade calls for embeddings: EmbeddingService, or CachingEmbeddings in front of it."""

    def embed(self, request: EmbeddingRequest, options: CallOptions | None = None) -> EmbeddingResponse: ...

    def close(self) -> None: ...


Inner = TypeVar("Inner", ChatCalls, EmbeddingCalls)


class CacheFront(Generic[Inner]):
    """What a caching composite holds in front of its service: the service, the cache, the
    client's model, the call log of its hits and the telemetry of their spans.

    Args:
        inner: the service (retries, routing, logging of calls that are sent).
        cache: the store and its policy.
        model: the model a request without one goes to (part of the key).
        provider: for the call event of a hit.
        telemetry: where a hit's span goes (``llmport.cache="hit"``, no token usage: none was
            spent); a miss's span is the inner service's (``llmport.cache="miss"``).
    """

    __slots__ = ("_cache", "_inner", "_log", "_model", "_telemetry")
    #: The logger of the hits' call events (the inner service's own).
    _LOGGER: ClassVar[str]
    _inner: Inner

    def __init__(
        self,
        inner: Inner,
        cache: ReplyCache,
        *,
        model: str | None,
        provider: str,
        telemetry: TelemetryPort | None = None,
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._model = model
        self._log = CallLog(self._LOGGER, provider=provider)
        self._telemetry = telemetry if telemetry is not None and telemetry.enabled else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inner!r})"

    def close(self) -> None:
        """Close the inner service and the store."""
        try:
            self._inner.close()
        finally:
            self._cache.close()


def left_of_deadline(options: CallOptions | None, deadline: Deadline | None) -> CallOptions | None:
    """``options`` with the deadline cut to what is left of ``deadline``, for the inner call: time
    spent on the cache never stretches the call."""
    if deadline is None:
        return options
    return CallOptions(deadline=max(0.001, deadline.remaining())).over(options)


class CachingChat(CacheFront[ChatCalls]):
    """Chat replies from the cache when it has them; else from ``inner``, stored when whole
    (see :class:`CacheFront` for its arguments)."""

    __slots__ = ()
    _LOGGER = "llmport.chat"

    def _model_of(self, request: ChatRequest) -> str:
        model = request.model if request.model is not None else self._model
        if model is None:
            raise missing_model("chat")
        return model

    @staticmethod
    def _resolved(request: ChatRequest, model: str) -> ChatRequest:
        # Built only for the provider: a hit is keyed with the model without building it.
        return request if request.model is not None else dataclasses.replace(request, model=model)

    def _hit(self, operation: str, model: str | None, started: float, response: Any) -> None:
        self._log.call_ok(
            operation=operation,
            model=model,
            attempt=0,
            latency_ms=(perf_counter() - started) * 1000,
            usage=getattr(response, "usage", None),
            request_id=getattr(response, "request_id", None),
            extra={"cache": "hit"},
        )

    def _served(self, request: ChatRequest, model: str, started: float, found: Any) -> ChatResponse:
        self._hit("chat", model, started, found)
        if self._telemetry is not None:
            resolved = self._resolved(request, model)
            reply_to_span(self._telemetry.start_call(resolved, cache="hit"), resolved, found, spent=False)
        return cast(ChatResponse, found)

    def complete(self, request: ChatRequest, options: CallOptions | None = None) -> ChatResponse:
        """The stored reply to ``request`` (``cache_hit=True``), or the inner service's, then stored.

        Raises:
            LLMPortError: what the inner service raises; a store's failure is never raised.
        """
        cache = self._cache
        model = self._model_of(request)
        key = cache.key("chat", request, options, model=model) if cache.enabled(options) else None
        if key is None:
            return self._inner.complete(self._resolved(request, model), options)
        started = perf_counter()
        deadline = cache.deadline_of(options)
        share = cache.share(deadline)
        found = cache.get_many([key], share, _reply_hit)[0]
        if found is not None:
            return self._served(request, model, started, found)
        waited, claimed = cache.flight([key], key, deadline, share, _reply_hit)
        found = _first(waited)
        if found is not None:
            return self._served(request, model, started, found)  # a waiter holds no claim
        try:
            with cache_outcome("miss"):
                response = self._inner.complete(
                    self._resolved(request, model), left_of_deadline(options, deadline)
                )
        except BaseException:
            if claimed:
                cache.release(key, deadline)
            raise
        # Stored and the claim given back in one round trip.
        cache.put_many({key: response}, deadline, release=key if claimed else None)
        return response

    def stream(self, request: ChatRequest, options: CallOptions | None = None) -> Iterator[ChatChunk]:
        """The stored chunks of ``request`` replayed in order, or the inner stream, stored only when
        it ended normally (never when it failed or the caller left it early).

        Raises:
            ConfigurationError: at once, when no model is named.
            LLMPortError: from the iterator, what the inner stream raises.
        """
        cache = self._cache
        model = self._model_of(request)
        key = cache.key("stream", request, options, model=model) if cache.enabled(options) else None
        if key is None:
            return self._inner.stream(self._resolved(request, model), options)
        return self._stream(request, model, options, key)

    def _replay(
        self, request: ChatRequest, model: str, started: float, found: tuple[ChatChunk, ...]
    ) -> Iterator[ChatChunk]:
        self._hit("chat.stream", model, started, found[-1])
        telemetry = self._telemetry
        if telemetry is None:
            yield from found
            return
        resolved = self._resolved(request, model)
        trace = StreamTrace(telemetry.start_call(resolved, stream=True, cache="hit"), resolved)
        whole = False
        try:
            for chunk in found:
                trace.chunk(chunk)
                yield chunk
            whole = True
        finally:
            trace.end(usage=None, request_id=found[-1].request_id, cancelled=not whole)

    def _stream(
        self, request: ChatRequest, model: str, options: CallOptions | None, key: str
    ) -> Iterator[ChatChunk]:
        cache = self._cache
        started = perf_counter()
        deadline = cache.deadline_of(options)
        share = cache.share(deadline)
        found = cache.get_many([key], share, _stream_hit)[0]
        if found is not None:
            yield from self._replay(request, model, started, found)
            return
        waited, claimed = cache.flight([key], key, deadline, share, _stream_hit)
        found = _first(waited)
        if found is not None:  # a waiter holds no claim
            yield from self._replay(request, model, started, found)
            return
        kept: list[ChatChunk] = []
        whole = False
        try:
            with cache_outcome("miss"):  # the service reads it now; its stream logs it at the end
                chunks = self._inner.stream(
                    self._resolved(request, model), left_of_deadline(options, deadline)
                )
            try:
                for chunk in chunks:
                    kept.append(chunk)
                    yield chunk
                whole = True
            finally:
                close = getattr(chunks, "close", None)
                if callable(close):
                    close()
        finally:
            if whole:  # stored and the claim given back in one round trip
                cache.put_many({key: kept}, deadline, release=key if claimed else None)
            elif claimed:
                cache.release(key, deadline)


def _first(values: list[Any] | None) -> Any:
    return None if values is None else values[0]


def _reply_hit(found: Any) -> ChatResponse | None:
    # What a hit hands out: the stored reply, marked; kept by the memo when nothing in it can change.
    return dataclasses.replace(found, cache_hit=True) if isinstance(found, ChatResponse) else None


def _stream_hit(found: Any) -> tuple[ChatChunk, ...] | None:
    if not (isinstance(found, list) and found and all(isinstance(c, ChatChunk) for c in found)):
        return None
    return tuple(dataclasses.replace(chunk, cache_hit=True) for chunk in found)
