"""Telemetry adapters: ``NoTelemetry`` (the default, records nothing) and ``OpenTelemetry``.

``OpenTelemetry`` follows the OpenTelemetry GenAI semantic conventions: one CLIENT span per logical
call (``chat {model}``, ``embeddings {model}``), current while an attempt runs, with a child span
(``llmport.attempt``) for every attempt of a call that needed more than one; the
``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` histograms (and
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
#: The deployment of a routed client that answered (no GenAI convention names one).
_DEPLOYMENT = "llmport.deployment"
_CANCELLED = "llmport.stream.cancelled"
#: At most this many (operation, model, stream) shapes, and metric sets per shape, are kept.
_CACHE_LIMIT = 256


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

    What does not change from call to call is built once and kept: per (operation, model,
    stream) the span's name and attributes, and per (response model, error type) the attribute
    sets of the three metric points, handed to every record (the SDK copies them; never mutated
    here). The caches are bounded: past ``_CACHE_LIMIT`` entries, attributes are built per call.

    Args:
        provider: llmport's provider setting (openai, azure, azure_v1, fake).
        server_address: the host the adapter sends to, or None.
        server_port: its port, or None (left out when it is 443, as instrumentation-openai-v2 does).
        capture_content: record prompts and replies (``gen_ai.input.messages``/``output.messages``).
        tracer_provider: default the global one.
        meter_provider: default the global one.
    """

    __slots__ = (
        "_attrs",
        "_capture",
        "_names",
        "_provider",
        "_shapes",
        "_tracer",
        "h_duration",
        "h_tokens",
        "h_ttfc",
    )

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
        self._shapes: dict[tuple[str, str, bool], _Shape] = {}

    @property
    def enabled(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"OpenTelemetry(provider={self._provider!r}, capture_content={self._capture})"

    def _shape(self, operation: str, model: str, stream: bool) -> _Shape:
        key = (operation, model, stream)
        shape = self._shapes.get(key)
        if shape is None:
            shape = _Shape(self._names, self._attrs, operation, model, stream)
            if len(self._shapes) < _CACHE_LIMIT:
                self._shapes[key] = shape
        return shape

    def start_call(self, request: ChatRequest | EmbeddingRequest, *, stream: bool = False) -> _CallSpan:
        names = self._names
        if isinstance(request, ChatRequest):
            shape = self._shape(names.CHAT, request.model or "", stream)
            extra = names.chat_request_attributes(request)
        else:
            shape = self._shape(names.EMBEDDINGS, request.model or "", stream)
            extra = {names.DIMENSIONS: request.dimensions} if request.dimensions is not None else None
        # A copy: an API implementation may keep the dict it is given as the span's own.
        attrs = {**shape.span_attrs, **extra} if extra else dict(shape.span_attrs)
        span = self._tracer.start_span(shape.name, kind=names.CLIENT, attributes=attrs)
        return _CallSpan(self, span, shape)


class _Shape:
    """What every call of one (operation, model, stream) shares: span name, attributes, metric sets."""

    __slots__ = ("_metric_sets", "_names", "metric_attrs", "name", "span_attrs")

    def __init__(self, names: Any, base: dict[str, Any], operation: str, model: str, stream: bool) -> None:
        self._names = names
        self.name = f"{operation} {model}" if model else operation
        attrs = {**base, names.OPERATION: operation}
        if model:
            attrs[names.REQUEST_MODEL] = model
        self.metric_attrs = {key: attrs[key] for key in names.METRIC_KEYS if key in attrs}
        if stream:
            attrs[names.STREAM] = True
        self.span_attrs = attrs
        self._metric_sets: dict[tuple[str, str | None], _MetricSets] = {}

    def metric_sets(self, response_model: str, error_type: str | None) -> _MetricSets:
        """The attributes of the duration point and of the input and output token points."""
        key = (response_model, error_type)
        sets = self._metric_sets.get(key)
        if sets is None:
            names = self._names
            point = dict(self.metric_attrs)
            if response_model:
                point[names.RESPONSE_MODEL] = response_model
            if error_type is not None:
                point[names.ERROR_TYPE] = error_type
            sets = (
                point,
                {**point, names.TOKEN_TYPE: names.INPUT},
                {**point, names.TOKEN_TYPE: names.OUTPUT},
            )
            if len(self._metric_sets) < _CACHE_LIMIT:
                self._metric_sets[key] = sets
        return sets


class _CallSpan:
    """One logical call: the parent span, its attempts, its metrics."""

    __slots__ = (
        "_context",
        "_ended",
        "_log_fields",
        "_model",
        "_shape",
        "_span",
        "_started",
        "_tel",
        "_ttfc",
        "_ttfc_pending",
        "_usage",
    )

    def __init__(self, telemetry: OpenTelemetry, span: Any, shape: _Shape) -> None:
        self._tel = telemetry
        self._span = span
        self._shape = shape
        self._started = perf_counter()
        self._context: Any = None
        self._log_fields: Mapping[str, str] | None = None
        self._model = ""
        self._ttfc: float | None = None
        self._ttfc_pending = False
        self._usage: tuple[int, int] | None = None
        self._ended = False

    @property
    def capture_content(self) -> bool:
        return self._tel._capture

    @property
    def log_fields(self) -> Mapping[str, str]:
        fields = self._log_fields
        if fields is None:
            context = self._span.get_span_context()
            fields = (
                {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
                if context.is_valid
                else {}
            )
            self._log_fields = fields
        return fields

    def context(self) -> Any:
        """The OpenTelemetry context with this call's span current (built on first use)."""
        if self._context is None:
            self._context = self._tel._names.set_span_in_context(self._span)
        return self._context

    def attempt(self, number: int) -> AbstractContextManager[None]:
        # Most calls succeed at once: their one attempt is the call span itself (current while the
        # adapter works, so HTTP spans nest under it), and a child span would only double the cost
        # of tracing. A first attempt that fails gets its child span after the fact, with its real
        # start and end, so a retried call shows every attempt.
        return _Attempt(self, number, eager=number > 1)

    def retry(self, attempt: int, error: LLMPortError, delay: float, reason: str) -> None:
        names = self._tel._names
        attributes: dict[str, Any] = {
            _ATTEMPT: attempt,
            "llmport.retry.reason": reason,
            "llmport.retry.delay_s": round(delay, 3),
            names.ERROR_TYPE: type(error).__name__,
        }
        if error.request_id:
            attributes[_REQUEST_ID] = error.request_id
        if error.deployment:
            attributes[_DEPLOYMENT] = error.deployment
        self._span.add_event("llmport.retry", attributes)

    def first_chunk(self) -> None:
        # Kept until the reply's attributes (or the error's) are set: one SDK call, not two.
        if self._ttfc is None:
            self._ttfc = perf_counter() - self._started
            self._ttfc_pending = True

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
        deployment: str | None = None,
    ) -> None:
        names = self._tel._names
        # One set_attributes call: the SDK takes its span lock once, not once per attribute.
        attributes: dict[str, Any] = {}
        if self._ttfc_pending:
            attributes[names.TIME_TO_FIRST_CHUNK] = self._ttfc
            self._ttfc_pending = False
        if system_fingerprint:
            attributes[names.SYSTEM_FINGERPRINT] = system_fingerprint
        if service_tier:
            attributes[names.SERVICE_TIER] = service_tier
        if model:
            attributes[names.RESPONSE_MODEL] = model
            self._model = model
        if response_id:
            attributes[names.RESPONSE_ID] = response_id
        if finish_reasons:
            attributes[names.FINISH_REASONS] = finish_reasons
        if request_id:
            attributes[_REQUEST_ID] = request_id
        if deployment:
            attributes[_DEPLOYMENT] = deployment
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
        names = self._tel._names
        attributes: dict[str, Any] = {}
        if reply.model:
            attributes[names.RESPONSE_MODEL] = reply.model
            self._model = reply.model
        if reply.request_id:
            attributes[_REQUEST_ID] = reply.request_id
        if reply.deployment:
            attributes[_DEPLOYMENT] = reply.deployment
        if reply.vectors:
            attributes[names.DIMENSIONS] = len(reply.vectors[0])
        attributes[names.INPUT_TOKENS] = reply.usage.prompt_tokens
        self._usage = (reply.usage.prompt_tokens, -1)
        self._span.set_attributes(attributes)

    def content(self, input_messages: str | None, output_messages: str | None) -> None:
        names = self._tel._names
        attributes: dict[str, Any] = {}
        if input_messages is not None:
            attributes[names.INPUT_MESSAGES] = input_messages
        if output_messages is not None:
            attributes[names.OUTPUT_MESSAGES] = output_messages
        if attributes:
            self._span.set_attributes(attributes)

    def end(self, error: BaseException | None = None, *, cancelled: bool = False) -> None:
        if self._ended:
            return
        self._ended = True
        tel = self._tel
        names = tel._names
        span = self._span
        error_type: str | None = None
        if error is not None:
            error_type = type(error).__name__
            attributes: dict[str, Any] = {names.ERROR_TYPE: error_type}
            if isinstance(error, LLMPortError) and error.request_id:
                attributes[_REQUEST_ID] = error.request_id
            if isinstance(error, LLMPortError) and error.deployment:
                attributes[_DEPLOYMENT] = error.deployment
            if self._ttfc_pending:
                attributes[names.TIME_TO_FIRST_CHUNK] = self._ttfc
            span.set_attributes(attributes)
            span.set_status(names.error_status(error_type))
        elif cancelled or self._ttfc_pending:
            attributes = {_CANCELLED: True} if cancelled else {}
            if self._ttfc_pending:
                attributes[names.TIME_TO_FIRST_CHUNK] = self._ttfc
            span.set_attributes(attributes)
        self._ttfc_pending = False
        duration = perf_counter() - self._started
        span.end()
        point, input_point, output_point = self._shape.metric_sets(self._model, error_type)
        tel.h_duration.record(duration, point)
        if self._ttfc is not None:
            tel.h_ttfc.record(self._ttfc, point)
        if self._usage is not None:
            input_tokens, output_tokens = self._usage
            tel.h_tokens.record(input_tokens, input_point)
            if output_tokens >= 0:
                tel.h_tokens.record(output_tokens, output_point)


class _Attempt:
    """One attempt, with the call's context current while it runs (HTTP spans nest under it).

    ``eager`` (a retry): a child span of the call, current while the attempt runs. Not ``eager``
    (a first attempt): the call span is current and no span is made while it runs; one is made,
    with the attempt's real start time, only if it fails.
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
            _ATTEMPT_SPAN, context=call.context(), attributes={_ATTEMPT: self._number}, start_time=start_time
        )

    def __enter__(self) -> None:
        call = self._call
        names = call._tel._names
        if not self._eager:
            self._started_ns = time_ns()
            self._token = names.attach(call.context())
            return
        self._span = self._start()
        self._token = names.attach(names.set_span_in_context(self._span))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._call._tel._names.detach(self._token)
        failed = exc is not None and not isinstance(exc, GeneratorExit)
        if not self._eager:
            if failed:
                self._span = self._start(self._started_ns)
                self._finish(exc)
            return
        self._finish(exc if failed else None)

    def _finish(self, exc: BaseException | None) -> None:
        names = self._call._tel._names
        span = self._span
        if exc is not None:
            error_type = type(exc).__name__
            attributes: dict[str, Any] = {names.ERROR_TYPE: error_type}
            if isinstance(exc, LLMPortError):
                if exc.request_id:
                    attributes[_REQUEST_ID] = exc.request_id
                if exc.status_code is not None:
                    attributes[names.HTTP_STATUS] = exc.status_code
            span.set_attributes(attributes)
            span.set_status(names.error_status(error_type))
        span.end()


_MetricSets = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
