"""CachingChat: the reply cache in front of the chat service (so of the retry owner and the router)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from time import perf_counter
from typing import Any, Protocol

from ..domain.call_options import CallOptions
from ..domain.deadline import Deadline
from ..domain.models import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from ..domain.ports import TelemetryPort
from .boundary import missing_model
from .cache_store import ReplyCache, cache_outcome
from .logging import CallLog
from .tracing import StreamTrace, reply_to_span

__all__ = ["CachingChat", "ChatCalls", "EmbeddingCalls", "left_of_deadline"]


class ChatCalls(Protocol):
    """What the facade calls for chat: ChatService, or CachingChat in front of it."""

    def complete(self, request: ChatRequest, options: CallOptions | None = None) -> ChatResponse: ...

    def stream(self, request: ChatRequest, options: CallOptions | None = None) -> Iterator[ChatChunk]: ...

    def close(self) -> None: ...


class EmbeddingCalls(Protocol):
    """What the facade calls for embeddings: EmbeddingService, or CachingEmbeddings in front of it."""

    def embed(self, request: EmbeddingRequest, options: CallOptions | None = None) -> EmbeddingResponse: ...

    def close(self) -> None: ...


def left_of_deadline(options: CallOptions | None, deadline: Deadline | None) -> CallOptions | None:
    """``options`` with the deadline cut to what is left of ``deadline``, for the inner call: time
    spent on the cache never stretches the call."""
    if deadline is None:
        return options
    return CallOptions(deadline=max(0.001, deadline.remaining())).over(options)


class CachingChat:
    """Chat replies from the cache when it has them; else from ``inner``, stored when whole.

    Args:
        inner: the chat service (retries, routing, logging of calls that are sent).
        cache: the store and its policy.
        model: the model a request without one goes to (part of the key).
        provider: for the call event of a hit.
        telemetry: where a hit's span goes (``llmport.cache="hit"``, no token usage: none was
            spent); a miss's span is the inner service's (``llmport.cache="miss"``).
    """

    __slots__ = ("_cache", "_inner", "_log", "_model", "_telemetry")

    def __init__(
        self,
        inner: ChatCalls,
        cache: ReplyCache,
        *,
        model: str | None,
        provider: str,
        telemetry: TelemetryPort | None = None,
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._model = model
        self._log = CallLog("llmport.chat", provider=provider)
        self._telemetry = telemetry if telemetry is not None and telemetry.enabled else None

    def __repr__(self) -> str:
        return f"CachingChat({self._inner!r})"

    def _resolve(self, request: ChatRequest) -> ChatRequest:
        if request.model is not None:
            return request
        if self._model is None:
            raise missing_model("chat")
        return dataclasses.replace(request, model=self._model)

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

    def _served(self, request: ChatRequest, started: float, found: ChatResponse) -> ChatResponse:
        self._hit("chat", request.model, started, found)
        if self._telemetry is not None:
            span = self._telemetry.start_call(request, cache="hit")
            reply_to_span(span, request, found, spent=False)
        return dataclasses.replace(found, cache_hit=True)

    def complete(self, request: ChatRequest, options: CallOptions | None = None) -> ChatResponse:
        """The stored reply to ``request`` (``cache_hit=True``), or the inner service's, then stored.

        Raises:
            LLMPortError: what the inner service raises; a store's failure is never raised.
        """
        cache = self._cache
        request = self._resolve(request)
        key = cache.key("chat", request, options) if cache.enabled(options) else None
        if key is None:
            return self._inner.complete(request, options)
        started = perf_counter()
        deadline = cache.deadline_of(options)
        share = cache.share(deadline)
        found = cache.get_many([key], share)[0]
        if isinstance(found, ChatResponse):
            return self._served(request, started, found)
        waited, claimed = cache.flight([key], key, deadline, share)
        try:
            found = _first(waited)
            if isinstance(found, ChatResponse):
                return self._served(request, started, found)
            with cache_outcome("miss"):
                response = self._inner.complete(request, left_of_deadline(options, deadline))
            cache.put_many({key: response}, deadline)
            return response
        finally:
            if claimed:
                cache.release(key, deadline)

    def stream(self, request: ChatRequest, options: CallOptions | None = None) -> Iterator[ChatChunk]:
        """The stored chunks of ``request`` replayed in order, or the inner stream, stored only when
        it ended normally (never when it failed or the caller left it early).

        Raises:
            ConfigurationError: at once, when no model is named.
            LLMPortError: from the iterator, what the inner stream raises.
        """
        request = self._resolve(request)
        cache = self._cache
        key = cache.key("stream", request, options) if cache.enabled(options) else None
        if key is None:
            return self._inner.stream(request, options)
        return self._stream(request, options, key)

    def _replay(self, request: ChatRequest, started: float, found: list[ChatChunk]) -> Iterator[ChatChunk]:
        self._hit("chat.stream", request.model, started, found[-1])
        telemetry = self._telemetry
        if telemetry is None:
            for chunk in found:
                yield dataclasses.replace(chunk, cache_hit=True)
            return
        trace = StreamTrace(telemetry.start_call(request, stream=True, cache="hit"), request)
        whole = False
        try:
            for stored in found:
                chunk = dataclasses.replace(stored, cache_hit=True)
                trace.chunk(chunk)
                yield chunk
            whole = True
        finally:
            trace.end(usage=None, request_id=found[-1].request_id, cancelled=not whole)

    def _stream(self, request: ChatRequest, options: CallOptions | None, key: str) -> Iterator[ChatChunk]:
        cache = self._cache
        started = perf_counter()
        deadline = cache.deadline_of(options)
        share = cache.share(deadline)
        found = cache.get_many([key], share)[0]
        if _chunks(found):
            yield from self._replay(request, started, found)
            return
        waited, claimed = cache.flight([key], key, deadline, share)
        try:
            found = _first(waited)
            if _chunks(found):
                yield from self._replay(request, started, found)
                return
            kept: list[ChatChunk] = []
            whole = False
            with cache_outcome("miss"):  # the service reads it now; its stream logs it at the end
                chunks = self._inner.stream(request, left_of_deadline(options, deadline))
            try:
                for chunk in chunks:
                    kept.append(chunk)
                    yield chunk
                whole = True
            finally:
                close = getattr(chunks, "close", None)
                if callable(close):
                    close()
                if whole:
                    cache.put_many({key: kept}, deadline)
        finally:
            if claimed:
                cache.release(key, deadline)

    def close(self) -> None:
        """Close the inner service and the store."""
        try:
            self._inner.close()
        finally:
            self._cache.close()


def _first(values: list[Any] | None) -> Any:
    return None if values is None else values[0]


def _chunks(found: Any) -> bool:
    return isinstance(found, list) and bool(found) and all(isinstance(c, ChatChunk) for c in found)
