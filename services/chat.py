"""ChatService: model defaults, retries, token refresh, logging and domain-only errors around a ChatPort."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from time import perf_counter
from typing import TypeVar

from ..domain.call_options import CallOptions
from ..domain.errors import (
    AuthenticationError,
    ContextLengthExceededError,
    LLMPortError,
    StreamInterruptedError,
)
from ..domain.models import ChatChunk, ChatRequest, ChatResponse, Usage
from ..domain.ports import CallSpan, ChatPort, Closeable, TelemetryPort
from .boundary import missing_model, unexpected_error
from .cache_store import CACHE_OUTCOME
from .context_check import ContextCheck
from .logging import CallLog
from .retry import Retrier, RetryEvent
from .token_cache import TokenCache
from .tracing import StreamTrace, reply_to_span

__all__ = ["ChatService"]

T = TypeVar("T")


class ChatService:
    """The only way the facade talks to a chat adapter.

    Args:
        chat: the adapter.
        provider: its name, for logs and wrapped errors.
        model: the model (Azure: deployment) used when a request names none.
        retrier: the retry policy runner.
        token_cache: when the adapter authenticates with tokens from this cache, a 401 drops the
            cached token and the call is retried once.
        log_content: put prompts and replies into the call events (off by default: they may be
            personal data).
        telemetry: where spans and metrics go; None or a disabled port records nothing (one
            ``if`` per call).
        context: refuses a request too long for its model's window before it is sent; None
            checks nothing (no counter, or a router that checks per deployment).
    """

    __slots__ = (
        "_chat",
        "_context",
        "_log",
        "_log_content",
        "_model",
        "_on_unauthorized",
        "_provider",
        "_retrier",
        "_telemetry",
    )

    def __init__(
        self,
        chat: ChatPort,
        *,
        provider: str,
        model: str | None,
        retrier: Retrier,
        token_cache: TokenCache | None = None,
        log_content: bool = False,
        telemetry: TelemetryPort | None = None,
        context: ContextCheck | None = None,
    ) -> None:
        self._chat = chat
        self._context = context
        self._telemetry = telemetry if telemetry is not None and telemetry.enabled else None
        self._provider = provider
        self._model = model
        self._retrier = retrier
        self._log_content = log_content
        self._log = CallLog("llmport.chat", provider=provider)
        self._on_unauthorized: Callable[[AuthenticationError], bool] | None = (
            token_cache.reauthenticate if token_cache is not None else None
        )

    def __repr__(self) -> str:
        return f"ChatService(provider={self._provider!r}, model={self._model!r})"

    def _resolve(self, request: ChatRequest) -> ChatRequest:
        if request.model is None:
            if self._model is None:
                raise missing_model("chat")
            request = dataclasses.replace(request, model=self._model)
        if self._context is not None:
            try:
                self._context.check(request)
            except ContextLengthExceededError as error:
                error.provider = self._provider
                raise
        return request

    def _retry_logger(
        self, operation: str, model: str | None, span: CallSpan | None
    ) -> Callable[[RetryEvent], None]:
        log = self._log
        if span is None:

            def on_retry(event: RetryEvent) -> None:
                log.retry(operation=operation, model=model, event=event)

            return on_retry

        def on_retry_traced(event: RetryEvent) -> None:
            span.retry(event.attempt, event.error, event.delay, event.reason)
            log.retry(operation=operation, model=model, event=event, extra=span.log_fields)

        return on_retry_traced

    def _content(
        self, request: ChatRequest, reply: str | None, span: CallSpan | None = None, cache: str | None = None
    ) -> dict[str, object] | None:
        if not self._log.enabled:
            return None
        extra: dict[str, object] | None = dict(span.log_fields) if span is not None else None
        cache = CACHE_OUTCOME.get() if cache is None else cache
        if cache is not None:
            extra = {**(extra or {}), "cache": cache}
        if self._log_content:
            prompt = [{"role": message.role, "text": message.text} for message in request.messages]
            extra = {**(extra or {}), "prompt": prompt, "reply": reply}
        return extra

    def complete(self, request: ChatRequest, options: CallOptions | None = None) -> ChatResponse:
        """Return the whole reply to ``request``, retrying transient failures.

        Args:
            request: what to send.
            options: this call's own retries, deadline, timeout and headers, if any.

        Raises:
            ConfigurationError: neither the request nor the service names a model.
            ContextLengthExceededError: before sending, the prompt plus max_tokens cannot fit.
            LLMPortError: the provider's final answer; anything else is wrapped in ProviderError.
        """
        request = self._resolve(request)
        chat = self._chat
        tally = _Tally()
        telemetry = self._telemetry
        span = None if telemetry is None else telemetry.start_call(request, cache=CACHE_OUTCOME.get())
        response = self._retried("chat", request, tally, lambda: chat.complete(request), options, span=span)
        if span is not None:
            reply_to_span(span, request, response)
        self._log.call_ok(
            operation="chat",
            model=request.model,
            attempt=tally.attempts,
            latency_ms=(perf_counter() - tally.started) * 1000,
            usage=response.usage,
            request_id=response.request_id,
            extra=self._content(request, response.text, span),
        )
        return response

    def _retried(
        self,
        operation: str,
        request: ChatRequest,
        tally: _Tally,
        once: Callable[[], T],
        options: CallOptions | None,
        *,
        span: CallSpan | None,
        cache: str | None = None,
    ) -> T:
        """Run ``once`` under the retry policy; log a final failure and make it a domain error.

        With a span, each attempt is a child span of it, and a final failure ends it. ``cache``:
        the cache outcome to log, when the call's context no longer holds it (a stream's).
        """

        def attempt() -> T:
            tally.attempts += 1
            return once()

        def traced_attempt() -> T:
            tally.attempts += 1
            with span.attempt(tally.attempts):  # type: ignore[union-attr]  # set when chosen
                return once()

        try:
            return self._retrier.call(
                attempt if span is None else traced_attempt,
                on_unauthorized=self._on_unauthorized,
                on_retry=self._retry_logger(operation, request.model, span),
                options=options,
            )
        except LLMPortError as error:
            self._failed(operation, request, tally.attempts, tally.started, error, span=span, cache=cache)
            raise
        except Exception as exc:
            wrapped = unexpected_error(exc, provider=self._provider, operation=operation)
            self._failed(operation, request, tally.attempts, tally.started, wrapped, span=span, cache=cache)
            raise wrapped from exc

    def _failed(
        self,
        operation: str,
        request: ChatRequest,
        attempts: int,
        started: float,
        error: BaseException,
        *,
        status: str = "error",
        usage: Usage | None = None,
        reply: str | None = None,
        span: CallSpan | None = None,
        cache: str | None = None,
    ) -> None:
        if span is not None:
            span.end(error)
        self._log.call_failed(
            operation=operation,
            model=request.model,
            attempt=attempts,
            latency_ms=(perf_counter() - started) * 1000,
            error=error,
            status=status,
            usage=usage,
            extra=self._content(request, reply, span, cache),
        )

    def stream(self, request: ChatRequest, options: CallOptions | None = None) -> Iterator[ChatChunk]:
        """Return an iterator over the reply's chunks; nothing is sent until the first ``next()``.

        Opening the stream and reading its first chunk are retried like ``complete``; once a
        chunk has been handed out, a failure ends the stream (a retry would repeat text).

        Raises:
            ConfigurationError: at once, when neither the request nor the service names a model.
            LLMPortError: from the iterator; a foreign error after the first chunk becomes
                StreamInterruptedError, before it ProviderError.
        """
        return self._stream(self._resolve(request), options, CACHE_OUTCOME.get())

    def _stream(
        self, request: ChatRequest, options: CallOptions | None, cache: str | None
    ) -> Iterator[ChatChunk]:
        chat = self._chat
        tally = _Tally()
        telemetry = self._telemetry
        span = None if telemetry is None else telemetry.start_call(request, stream=True, cache=cache)

        def open_stream() -> tuple[Iterator[ChatChunk], ChatChunk | None]:
            chunks = chat.stream(request)
            try:
                return chunks, next(chunks, None)
            except BaseException:
                _close(chunks)
                raise

        # The stream runs outside the caller's cache_outcome block: ``cache`` was read when it began.
        chunks, first = self._retried(
            "chat.stream", request, tally, open_stream, options, span=span, cache=cache
        )
        attempts, started = tally.attempts, tally.started
        trace = None if span is None else StreamTrace(span, request)

        keep_text = self._log_content and self._log.enabled
        text: list[str] = []
        usage: Usage | None = None
        request_id: str | None = None
        ended: str | None = None  # how the stream ended, when it did not fail
        try:
            chunk = first
            while chunk is not None:
                usage = chunk.usage or usage
                request_id = chunk.request_id or request_id
                if keep_text:
                    text.append(chunk.text)
                if trace is not None:
                    trace.chunk(chunk)
                yield chunk
                chunk = next(chunks, None)
            ended = "ok"
        except LLMPortError as error:
            reply = "".join(text)
            self._failed(
                "chat.stream",
                request,
                attempts,
                started,
                error,
                usage=usage,
                reply=reply,
                span=span,
                cache=cache,
            )
            raise
        except GeneratorExit:
            # The consumer stopped early (break, close, garbage collection): not a failure.
            ended = "cancelled"
            raise
        except Exception as exc:
            wrapped = unexpected_error(
                exc, provider=self._provider, operation="chat.stream", error_type=StreamInterruptedError
            )
            reply = "".join(text)
            self._failed(
                "chat.stream",
                request,
                attempts,
                started,
                wrapped,
                usage=usage,
                reply=reply,
                span=span,
                cache=cache,
            )
            raise wrapped from exc
        finally:
            _close(chunks)
            if ended is not None:
                if trace is not None:
                    trace.end(usage=usage, request_id=request_id, cancelled=ended == "cancelled")
                self._stream_ended(
                    request,
                    attempts=attempts,
                    started=started,
                    usage=usage,
                    request_id=request_id,
                    text=text,
                    status=ended,
                    span=span,
                    cache=cache,
                )

    def _stream_ended(
        self,
        request: ChatRequest,
        *,
        attempts: int,
        started: float,
        usage: Usage | None,
        request_id: str | None,
        text: list[str],
        status: str,
        span: CallSpan | None,
        cache: str | None,
    ) -> None:
        self._log.call_ok(
            operation="chat.stream",
            model=request.model,
            attempt=attempts,
            latency_ms=(perf_counter() - started) * 1000,
            usage=usage,
            request_id=request_id,
            status=status,
            extra=self._content(request, "".join(text), span, cache),
        )

    def close(self) -> None:
        """Close the adapter, when it holds resources; calling it twice is harmless."""
        if isinstance(self._chat, Closeable):
            self._chat.close()


class _Tally:
    """Attempts made for one call and when it started, for its log event."""

    __slots__ = ("attempts", "started")

    def __init__(self) -> None:
        self.attempts = 0
        self.started = perf_counter()


def _close(chunks: Iterator[ChatChunk]) -> None:
    # Generators and SDK streams hold an HTTP response open until closed.
    close = getattr(chunks, "close", None)
    if callable(close):
        close()
