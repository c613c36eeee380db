"""Telemetry adapters: ``NoTelemetry`` (the default, records nothing) and ``OpenTelemetry``.

``OpenTelemetry`` follows the OpenTelemetry GenAI semantic conventions: one CLIENT span per logical
call (``chat {model}``, ``embeddings {model}``) with one child span per attempt (``llmport.attempt``),
the ``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` histograms (and
``gen_ai.client.operation.time_to_first_chunk`` for streams). Attribute names come from the
``opentelemetry-semantic-conventions`` package. Message content only when the user opts in. Never a
key or a token: nothing here sees the credentials.

``opentelemetry`` is imported when an ``OpenTelemetry`` is built, never by ``import llmport``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from time import perf_counter, time_ns
from typing import Any

from ..domain.errors import LLMPortError
from ..domain.models import ChatRequest, EmbeddingRequest, EmbeddingResponse, Usage

__all__ = ["CAPTURE_CONTENT_ENV", "NoTelemetry", "OpenTelemetry", "provider_name"]

#: The conventions' switch for message content (the one instrumentation-openai-v2 reads).
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_VALUES = frozenset({"true", "span_only", "span_and_event"})

_INSTRUMENTATION = "llmport"
_ATTEMPT_SPAN = "llmport.attempt"
_ATTEMPT = "llmport.attempt"
_REQUEST_ID = "llmport.request_id"
_CANCELLED = "llmport.stream.cancelled"


class NoTelemetry:
    """The default telemetry port: disabled, so services never open a span."""

    __slots__ = ()

    @property
    def enabled(self) -> bool:
        return False

    def start_call(self, request: ChatRequest | EmbeddingRequest, *, stream: bool = False) -> Any:
        raise RuntimeError("NoTelemetry is disabled: a service must not start calls on it")

    def __repr__(self) -> str:
        return "NoTelemetry()"


def provider_name(provider: str) -> str:
    """The conventions' ``gen_ai.provider.name`` for an llmport provider setting."""
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

    names = gen_ai.GenAiProviderNameValues
    if provider in ("azure", "azure_v1"):
        return names.AZURE_AI_OPENAI.value
    if provider == "openai":
        return names.OPENAI.value
    return f"llmport.{provider}"


def capture_content_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the conventions' environment variable asks for message content on spans."""
    return environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _CAPTURE_VALUES


class OpenTelemetry:
    """GenAI spans and metrics through ``opentelemetry-api``.

    Args:
        provider: llmport's provider setting (openai, azure, azure_v1, fake).
        server_address: the host the adapter sends to, or None.
        server_port: its port, or None (left out when it is 443, as instrumentation-openai-v2 does).
        capture_content: record prompts and replies (``gen_ai.input.messages``/``output.messages``).
        tracer_provider: default the global one.
        meter_provider: default the global one.
    """

    __slots__ = ("_attrs", "_capture", "_names", "_provider", "_tracer", "h_duration", "h_tokens", "h_ttfc")

    def __init__(
        self,
        *,
        provider: str,
        server_address: str | None = None,
        server_port: int | None = None,
        capture_content: bool = False,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        from opentelemetry import metrics, trace
        from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

        from . import _otel_names as names

        self._names = names
        self._provider = provider
        self._capture = capture_content
        self._tracer = trace.get_tracer(_INSTRUMENTATION, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_INSTRUMENTATION, meter_provider=meter_provider)
        self.h_duration = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=names.DURATION_BUCKETS,
        )
        self.h_tokens = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=names.TOKEN_BUCKETS,
        )
        self.h_ttfc = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed reply",
            explicit_bucket_boundaries_advisory=names.DURATION_BUCKETS,
        )
        attrs: dict[str, Any] = {names.PROVIDER: provider_name(provider)}
        if server_address:
            attrs[names.SERVER_ADDRESS] = server_address
            if server_port and server_port != 443:
                attrs[names.SERVER_PORT] = server_port
        self._attrs = attrs

    @property
    def enabled(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"OpenTelemetry(provider={self._provider!r}, capture_content={self._capture})"

    def start_call(self, request: ChatRequest | EmbeddingRequest, *, stream: bool = False) -> _CallSpan:
        names = self._names
        model = request.model or ""
        attrs = dict(self._attrs)
        if isinstance(request, ChatRequest):
            operation = names.CHAT
            attrs.update(names.chat_request_attributes(request))
        else:
            operation = names.EMBEDDINGS
            if request.dimensions is not None:
                attrs[names.DIMENSIONS] = request.dimensions
        attrs[names.OPERATION] = operation
        if model:
            attrs[names.REQUEST_MODEL] = model
        metric_attrs = {key: attrs[key] for key in names.METRIC_KEYS if key in attrs}
        if stream:
            attrs[names.STREAM] = True
        span = self._tracer.start_span(
            f"{operation} {model}" if model else operation, kind=names.CLIENT, attributes=attrs
        )
        return _CallSpan(self, span, metric_attrs, stream)


class _CallSpan:
    """One logical call: the parent span, its attempts, its metrics."""

    __slots__ = (
        "_context",
        "_ended",
        "_metric",
        "_names",
        "_span",
        "_started",
        "_stream",
        "_tel",
        "_ttfc",
        "_usage",
    )

    def __init__(
        self, telemetry: OpenTelemetry, span: Any, metric_attrs: dict[str, Any], stream: bool
    ) -> None:
        self._tel = telemetry
        self._names = telemetry._names
        self._span = span
        self._metric = metric_attrs
        self._stream = stream
        self._started = perf_counter()
        self._context: Any = None
        self._ttfc: float | None = None
        self._usage: tuple[int, int] | None = None
        self._ended = False

    @property
    def capture_content(self) -> bool:
        return self._tel._capture

    @property
    def log_fields(self) -> Mapping[str, str]:
        context = self._span.get_span_context()
        if not context.is_valid:
            return {}
        return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}

    def attempt(self, number: int) -> AbstractContextManager[None]:
        if self._context is None:
            self._context = self._names.set_span_in_context(self._span)
        # Most calls succeed at once: their one attempt is the call span itself, and a child span
        # would only double the cost of tracing. A first attempt that fails gets its child span
        # after the fact, with its real start and end, so a retried call shows every attempt.
        return _Attempt(self, number, eager=number > 1)

    def retry(self, attempt: int, error: LLMPortError, delay: float, reason: str) -> None:
        names = self._names
        attributes: dict[str, Any] = {
            _ATTEMPT: attempt,
            "llmport.retry.reason": reason,
            "llmport.retry.delay_s": round(delay, 3),
            names.ERROR_TYPE: type(error).__name__,
        }
        if error.request_id:
            attributes[_REQUEST_ID] = error.request_id
        self._span.add_event("llmport.retry", attributes)

    def first_chunk(self) -> None:
        if self._ttfc is None:
            self._ttfc = perf_counter() - self._started
            self._span.set_attribute(self._names.TIME_TO_FIRST_CHUNK, self._ttfc)

    def chat_reply(
        self,
        *,
        model: str,
        response_id: str | None,
        finish_reasons: tuple[str, ...],
        usage: Usage | None,
        request_id: str | None,
        system_fingerprint: str | None = None,
        service_tier: str | None = None,
    ) -> None:
        names = self._names
        # One set_attributes call: the SDK takes its span lock once, not once per attribute.
        attributes: dict[str, Any] = {}
        if system_fingerprint:
            attributes[names.SYSTEM_FINGERPRINT] = system_fingerprint
        if service_tier:
            attributes[names.SERVICE_TIER] = service_tier
        if model:
            attributes[names.RESPONSE_MODEL] = model
            self._metric[names.RESPONSE_MODEL] = model
        if response_id:
            attributes[names.RESPONSE_ID] = response_id
        if finish_reasons:
            attributes[names.FINISH_REASONS] = finish_reasons
        if request_id:
            attributes[_REQUEST_ID] = request_id
        if usage is not None:
            attributes[names.INPUT_TOKENS] = usage.prompt_tokens
            attributes[names.OUTPUT_TOKENS] = usage.completion_tokens
            self._usage = (usage.prompt_tokens, usage.completion_tokens)
            if usage.cached_tokens:
                attributes[names.CACHED_TOKENS] = usage.cached_tokens
            if usage.reasoning_tokens:
                attributes[names.REASONING_TOKENS] = usage.reasoning_tokens
        self._span.set_attributes(attributes)

    def embedding_reply(self, reply: EmbeddingResponse) -> None:
        names = self._names
        if reply.model:
            self._span.set_attribute(names.RESPONSE_MODEL, reply.model)
            self._metric[names.RESPONSE_MODEL] = reply.model
        if reply.request_id:
            self._span.set_attribute(_REQUEST_ID, reply.request_id)
        if reply.vectors:
            self._span.set_attribute(names.DIMENSIONS, len(reply.vectors[0]))
        self._set_usage(reply.usage.prompt_tokens, None)

    def _set_usage(self, input_tokens: int, output_tokens: int | None) -> None:
        names = self._names
        self._span.set_attribute(names.INPUT_TOKENS, input_tokens)
        if output_tokens is not None:
            self._span.set_attribute(names.OUTPUT_TOKENS, output_tokens)
        self._usage = (input_tokens, -1 if output_tokens is None else output_tokens)

    def content(self, input_messages: str | None, output_messages: str | None) -> None:
        if input_messages is not None:
            self._span.set_attribute(self._names.INPUT_MESSAGES, input_messages)
        if output_messages is not None:
            self._span.set_attribute(self._names.OUTPUT_MESSAGES, output_messages)

    def end(self, error: BaseException | None = None, *, cancelled: bool = False) -> None:
        if self._ended:
            return
        self._ended = True
        names = self._names
        span = self._span
        tel = self._tel
        metric = self._metric
        if error is not None:
            error_type = type(error).__name__
            metric[names.ERROR_TYPE] = error_type
            span.set_attribute(names.ERROR_TYPE, error_type)
            if isinstance(error, LLMPortError) and error.request_id:
                span.set_attribute(_REQUEST_ID, error.request_id)
            span.set_status(names.error_status(error_type))
        elif cancelled:
            span.set_attribute(_CANCELLED, True)
        duration = perf_counter() - self._started
        span.end()
        tel.h_duration.record(duration, metric)
        if self._ttfc is not None:
            tel.h_ttfc.record(self._ttfc, metric)
        if self._usage is not None:
            input_tokens, output_tokens = self._usage
            tel.h_tokens.record(input_tokens, {**metric, names.TOKEN_TYPE: names.INPUT})
            if output_tokens >= 0:
                tel.h_tokens.record(output_tokens, {**metric, names.TOKEN_TYPE: names.OUTPUT})


class _Attempt:
    """One attempt: a child span of the call, current while it runs (HTTP spans nest under it).

    Not ``eager`` (a first attempt): no span while it runs; one is made, with the attempt's real
    start time, only if it fails.
    """

    __slots__ = ("_call", "_eager", "_number", "_span", "_started_ns", "_token")

    def __init__(self, call: _CallSpan, number: int, *, eager: bool) -> None:
        self._call = call
        self._number = number
        self._eager = eager
        self._span: Any = None
        self._token: Any = None
        self._started_ns = 0

    def _start(self, start_time: int | None = None) -> Any:
        call = self._call
        return call._tel._tracer.start_span(
            _ATTEMPT_SPAN, context=call._context, attributes={_ATTEMPT: self._number}, start_time=start_time
        )

    def __enter__(self) -> None:
        if not self._eager:
            self._started_ns = time_ns()
            return
        names = self._call._names
        self._span = self._start()
        self._token = names.attach(names.set_span_in_context(self._span))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        names = self._call._names
        failed = exc is not None and not isinstance(exc, GeneratorExit)
        if not self._eager:
            if failed:
                self._span = self._start(self._started_ns)
                self._finish(exc)
            return
        names.detach(self._token)
        self._finish(exc if failed else None)

    def _finish(self, exc: BaseException | None) -> None:
        names = self._call._names
        span = self._span
        if exc is not None:
            error_type = type(exc).__name__
            span.set_attribute(names.ERROR_TYPE, error_type)
            if isinstance(exc, LLMPortError):
                if exc.request_id:
                    span.set_attribute(_REQUEST_ID, exc.request_id)
                if exc.status_code is not None:
                    span.set_attribute(names.HTTP_STATUS, exc.status_code)
            span.set_status(names.error_status(error_type))
        span.end()
