"""EmbeddingService: model defaults, batching, optional parallel batches, retries and logging."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from time import perf_counter

from ..domain.call_options import CallOptions
from ..domain.context_windows import EMBEDDING_REQUEST_TOKENS
from ..domain.errors import AuthenticationError, ConfigurationError, LLMPortError, ProviderError
from ..domain.models import EmbeddingRequest, EmbeddingResponse, Usage
from ..domain.ports import CallSpan, Closeable, EmbeddingPort, TelemetryPort
from .batching import MAX_BATCH_SIZE, plan_batches
from .boundary import missing_model, unexpected_error
from .cache_store import CACHE_OUTCOME
from .embedding_limits import EmbeddingLimits
from .logging import CallLog
from .retry import Retrier, RetryEvent
from .token_cache import TokenCache

__all__ = ["EmbeddingService"]


class _AttemptCount:
    # Batches may run on several threads; the count feeds the call's log event.
    __slots__ = ("_lock", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> int:
        with self._lock:
            self.value += 1
            return self.value


class EmbeddingService:
    """The only way the facade talks to an embedding adapter; takes any number of inputs.

    Inputs are split into requests of at most ``batch_size`` texts and ``token_budget`` tokens,
    counted with ``limits`` or else estimated (see ``llmport.services.batching``), sent in order
    or on a bounded thread pool, each retried on its own under the one deadline of the call; the
    vectors come back in input order with the usage summed. If one batch finally fails, the call
    raises its error and returns nothing.

    Args:
        embeddings: the adapter.
        provider: its name, for logs and wrapped errors.
        model: the model (Azure: deployment) used when a request names none.
        retrier: the retry policy runner.
        token_cache: when the adapter authenticates with tokens from this cache, a 401 drops the
            cached token and the batch is retried once.
        batch_size: the most inputs per request, 1..2048.
        token_budget: the most estimated tokens per request.
        max_workers: batches sent at once across all calls of this service; 1 sends them in turn.
        telemetry: where spans and metrics go; None or a disabled port records nothing. One span
            per call, one child per attempt of any batch.
        limits: holds inputs to the model's per-input limit (or cuts them, ``truncate``) and
            counts their tokens for the batches; None: estimated, not checked.

    Raises:
        ConfigurationError: a limit is out of range.
    """

    __slots__ = (
        "_batch_size",
        "_embeddings",
        "_limits",
        "_log",
        "_max_workers",
        "_model",
        "_on_unauthorized",
        "_pool",
        "_pool_lock",
        "_provider",
        "_retrier",
        "_telemetry",
        "_token_budget",
    )

    def __init__(
        self,
        embeddings: EmbeddingPort,
        *,
        provider: str,
        model: str | None,
        retrier: Retrier,
        token_cache: TokenCache | None = None,
        batch_size: int = MAX_BATCH_SIZE,
        token_budget: int = EMBEDDING_REQUEST_TOKENS,
        max_workers: int = 1,
        telemetry: TelemetryPort | None = None,
        limits: EmbeddingLimits | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ConfigurationError(
                f"embedding_batch_size must be 1..{MAX_BATCH_SIZE} (LLMPORT_EMBEDDING_BATCH_SIZE), "
                f"got {batch_size!r}"
            )
        if token_budget < 1:
            raise ConfigurationError(f"embedding_token_budget must be >= 1, got {token_budget!r}")
        if max_workers < 1:
            raise ConfigurationError(f"embedding_max_workers must be >= 1, got {max_workers!r}")
        self._embeddings = embeddings
        self._limits = limits
        self._telemetry = telemetry if telemetry is not None and telemetry.enabled else None
        self._provider = provider
        self._model = model
        self._retrier = retrier
        self._batch_size = batch_size
        self._token_budget = token_budget
        self._max_workers = max_workers
        self._log = CallLog("llmport.embeddings", provider=provider)
        self._on_unauthorized: Callable[[AuthenticationError], bool] | None = (
            token_cache.reauthenticate if token_cache is not None else None
        )
        # The pool is made on the first call that has several batches, never at build time.
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"EmbeddingService(provider={self._provider!r}, model={self._model!r}, "
            f"batch_size={self._batch_size}, max_workers={self._max_workers})"
        )

    def embed(self, request: EmbeddingRequest, options: CallOptions | None = None) -> EmbeddingResponse:
        """Return one vector per input of ``request``, in input order.

        Args:
            request: the inputs.
            options: this call's own retries, deadline, timeout and headers (for every batch), if any.

        Raises:
            ConfigurationError: neither the request nor the service names a model.
            ValidationError: an input is over the model's per-input limit (``truncate`` unset).
            LLMPortError: a batch's final error; anything else is wrapped in ProviderError.
        """
        if request.model is None:
            if self._model is None:
                raise missing_model("embed")
            request = dataclasses.replace(request, model=self._model)
        counts = None
        if self._limits is not None:
            request, counts = self._limits.fitted(request)
        batches = plan_batches(request.inputs, self._batch_size, self._token_budget, counts)
        attempts = _AttemptCount()
        started = perf_counter()
        # One deadline for the whole call: every batch, attempt and wait shares it.
        deadline_at = self._retrier.deadline_at(options)
        telemetry = self._telemetry
        span = None if telemetry is None else telemetry.start_call(request, cache=CACHE_OUTCOME.get())
        try:
            if len(batches) == 1:
                response = self._embed_batch(request, attempts, 0, deadline_at, options, span=span)
            else:
                parts = [
                    dataclasses.replace(request, inputs=request.inputs[batch.start : batch.stop])
                    for batch in batches
                ]
                response = _merge(self._embed_all(parts, attempts, deadline_at, options, span=span))
        except LLMPortError as error:
            self._failed(request, attempts, started, error, len(batches), span=span)
            raise
        except Exception as exc:
            wrapped = unexpected_error(exc, provider=self._provider, operation="embed")
            self._failed(request, attempts, started, wrapped, len(batches), span=span)
            raise wrapped from exc
        extra: dict[str, object] = {"inputs": len(request.inputs), "batches": len(batches)}
        if (cache := CACHE_OUTCOME.get()) is not None:
            extra["cache"] = cache
        if span is not None:
            span.embedding_reply(response)
            span.end()
            if self._log.enabled:
                extra.update(span.log_fields)
        self._log.call_ok(
            operation="embed",
            model=request.model,
            attempt=attempts.value,
            latency_ms=(perf_counter() - started) * 1000,
            usage=response.usage,
            request_id=response.request_id,
            extra=extra,
        )
        return response

    def _failed(
        self,
        request: EmbeddingRequest,
        attempts: _AttemptCount,
        started: float,
        error: Exception,
        batches: int,
        *,
        span: CallSpan | None,
    ) -> None:
        extra: dict[str, object] = {"inputs": len(request.inputs), "batches": batches}
        if span is not None:
            span.end(error)
            if self._log.enabled:
                extra.update(span.log_fields)
        self._log.call_failed(
            operation="embed",
            model=request.model,
            attempt=attempts.value,
            latency_ms=(perf_counter() - started) * 1000,
            error=error,
            extra=extra,
        )

    def _embed_batch(
        self,
        request: EmbeddingRequest,
        attempts: _AttemptCount,
        index: int,
        deadline_at: float | None,
        options: CallOptions | None,
        *,
        span: CallSpan | None,
    ) -> EmbeddingResponse:
        embeddings = self._embeddings
        provider = self._provider

        def operation() -> EmbeddingResponse:
            number = attempts.add()
            if span is None:
                return checked(embeddings.embed(request))
            with span.attempt(number):
                return checked(embeddings.embed(request))

        def checked(response: EmbeddingResponse) -> EmbeddingResponse:
            if len(response.vectors) != len(request.inputs):
                # Vectors are matched to inputs by position: a short answer would misalign them.
                raise ProviderError(
                    f"the {provider} adapter returned {len(response.vectors)} vectors "
                    f"for {len(request.inputs)} inputs",
                    provider=provider,
                    request_id=response.request_id,
                )
            return response

        def on_retry(event: RetryEvent) -> None:
            extra: dict[str, object] = {"batch": index}
            if span is not None:
                span.retry(event.attempt, event.error, event.delay, event.reason)
                extra.update(span.log_fields)
            self._log.retry(operation="embed", model=request.model, event=event, extra=extra)

        return self._retrier.call(
            operation,
            on_unauthorized=self._on_unauthorized,
            on_retry=on_retry,
            deadline_at=deadline_at,
            options=options,
        )

    def _embed_all(
        self,
        parts: Sequence[EmbeddingRequest],
        attempts: _AttemptCount,
        deadline_at: float | None,
        options: CallOptions | None,
        span: CallSpan | None,
    ) -> list[EmbeddingResponse]:
        if self._max_workers == 1:
            return [
                self._embed_batch(part, attempts, index, deadline_at, options, span=span)
                for index, part in enumerate(parts)
            ]
        pool = self._executor()
        futures: list[Future[EmbeddingResponse]] = [
            pool.submit(self._embed_batch, part, attempts, index, deadline_at, options, span=span)
            for index, part in enumerate(parts)
        ]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                # No partial results: stop batches not yet started, raise the first failure.
                for other in futures:
                    other.cancel()
                future.result()
        return [future.result() for future in futures]

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="llmport-embed")
            return self._pool

    def after_fork(self) -> None:
        """In a forked child: the pool's threads stayed in the parent; a new pool is made on demand."""
        self._pool_lock = threading.Lock()
        self._pool = None

    def close(self) -> None:
        """Stop the batch pool and close the adapter, when it holds resources; safe to repeat."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(self._embeddings, Closeable):
            self._embeddings.close()


def _merge(responses: Sequence[EmbeddingResponse]) -> EmbeddingResponse:
    vectors = [vector for response in responses for vector in response.vectors]
    usage = sum((response.usage for response in responses), Usage())
    first = responses[0]
    # Batches a router spread over several deployments name them all, in the order they served.
    served = ", ".join(dict.fromkeys(r.deployment for r in responses if r.deployment is not None)) or None
    return EmbeddingResponse(
        vectors=vectors, usage=usage, model=first.model, request_id=first.request_id, deployment=served
    )
