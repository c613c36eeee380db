"""Telemetry adapters: ``NoTelemetry`` (the default, records nothing) and ``OpenTelemetry``.

``OpenTelemetry`` follows the OpenTelemetry GenAI semantic conventions: one CLIENT span per logical
call (``chat {model}``, ``embeddings {model}``), current while an attempt runs, with a child span
(``llmport.attempt``) for every attempt of a call that needed more than one; the
``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` histograms (and
``gen_ai.client.operation.time_to_first_chunk`` for streams). Attribute names come from the
``opentelemetry-semantic-conventions`` package. Message content only when the user opts in. Never a
key or a token: nothing here sees the credentials.

What the SDK or the application's processors, views and providers raise never fails a call: it
is logged once per process and kind (``_otel_guard.py``) and the call goes on.

``opentelemetry`` is imported when an ``OpenTelemetry`` is built, never by ``import llmport``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ...domain.models import ChatRequest, EmbeddingRequest
from .guard import BUILDING, STARTING_SPAN, telemetry_failed
from .span import OtelCallSpan

__all__ = ["CAPTURE_CONTENT_ENV", "CallShape", "NoTelemetry", "OpenTelemetry", "provider_name"]

#: The conventions' switch for message content (the one instrumentation-openai-v2 reads).
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_VALUES = frozenset({"true", "span_only", "span_and_event"})

_INSTRUMENTATION = "llmport"
#: At most this many (operation, model, stream) shapes, and metric sets per shape, are kept.
_CACHE_LIMIT = 256


class NoTelemetry:
    """The default telemetry port: disabled, so services never open a span."""

    __slots__ = ()

    @property
    def enabled(self) -> bool:
        return False

    def start_call(
        self, request: ChatRequest | EmbeddingRequest, *, stream: bool = False, cache: str | None = None
    ) -> Any:
        raise RuntimeError("NoTelemetry is disabled: a service must not start calls on it")

    def __repr__(self) -> str:
        return "NoTelemetry()"


def provider_name(provider: str) -> str:
    """The conventions' ``gen_ai.provider.name`` for an llmport provider setting."""
    from . import names

    if provider in ("azure", "azure_v1"):
        return names.PROVIDER_AZURE_OPENAI
    if provider == "openai":
        return names.PROVIDER_OPENAI
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
    What a call's span reads of it is public: ``tracer``, ``names`` (the conventions' names, from
    ``names.py``), ``capture_content`` and the three histograms.

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
        "_provider",
        "_shapes",
        "capture_content",
        "h_duration",
        "h_tokens",
        "h_ttfc",
        "names",
        "tracer",
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

        from . import names

        self.names = names
        self._provider = provider
        self.capture_content = capture_content
        # A provider that raises here costs the client its traces or its metrics, never its build.
        try:
            self.tracer = trace.get_tracer(_INSTRUMENTATION, tracer_provider=tracer_provider)
        except Exception as exc:
            telemetry_failed(BUILDING, exc)
            self.tracer = trace.NoOpTracer()
        try:
            meter = metrics.get_meter(_INSTRUMENTATION, meter_provider=meter_provider)
            self.h_duration, self.h_tokens, self.h_ttfc = _histograms(meter, names)
        except Exception as exc:
            telemetry_failed(BUILDING, exc)
            self.h_duration, self.h_tokens, self.h_ttfc = _histograms(
                metrics.NoOpMeter(_INSTRUMENTATION), names
            )
        attrs: dict[str, Any] = {names.PROVIDER: provider_name(provider)}
        if server_address:
            attrs[names.SERVER_ADDRESS] = server_address
            if server_port and server_port != 443:
                attrs[names.SERVER_PORT] = server_port
        self._attrs = attrs
        self._shapes: dict[tuple[str, str, bool], CallShape] = {}

    @property
    def enabled(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"OpenTelemetry(provider={self._provider!r}, capture_content={self.capture_content})"

    def _shape(self, operation: str, model: str, stream: bool) -> CallShape:
        key = (operation, model, stream)
        shape = self._shapes.get(key)
        if shape is None:
            shape = CallShape(self.names, self._attrs, operation, model, stream)
            if len(self._shapes) < _CACHE_LIMIT:
                self._shapes[key] = shape
        return shape

    def start_call(
        self, request: ChatRequest | EmbeddingRequest, *, stream: bool = False, cache: str | None = None
    ) -> OtelCallSpan:
        names = self.names
        if isinstance(request, ChatRequest):
            shape = self._shape(names.CHAT, request.model or "", stream)
            extra = names.chat_request_attributes(request)
        else:
            shape = self._shape(names.EMBEDDINGS, request.model or "", stream)
            extra = {names.DIMENSIONS: request.dimensions} if request.dimensions is not None else None
        # A copy: an API implementation may keep the dict it is given as the span's own.
        attrs = {**shape.span_attrs, **extra} if extra else dict(shape.span_attrs)
        if cache is not None:
            attrs[names.CACHE] = cache
        try:
            span = self.tracer.start_span(shape.name, kind=names.CLIENT, attributes=attrs)
        except Exception as exc:  # a processor's on_start: the call goes on, with its metrics
            telemetry_failed(STARTING_SPAN, exc)
            span = names.INVALID_SPAN
        return OtelCallSpan(self, span, shape)


def _histograms(meter: Any, names: Any) -> tuple[Any, Any, Any]:
    """The three GenAI client histograms: duration, token usage, time to first chunk."""
    return (
        meter.create_histogram(
            names.OPERATION_DURATION_METRIC,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=names.DURATION_BUCKETS,
        ),
        meter.create_histogram(
            names.TOKEN_USAGE_METRIC,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=names.TOKEN_BUCKETS,
        ),
        meter.create_histogram(
            names.TIME_TO_FIRST_CHUNK_METRIC,
            unit="s",
            description="Time to receive the first chunk of a streamed reply",
            explicit_bucket_boundaries_advisory=names.DURATION_BUCKETS,
        ),
    )


class CallShape:
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


_MetricSets = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
