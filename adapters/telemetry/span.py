"""One traced call (``OtelCallSpan``) and its attempts (``_Attempt``), for ``telemetry.OpenTelemetry``.

Every step that reaches the OpenTelemetry SDK is guarded: what it raises (a span processor, an
exemplar filter, a view) is handed to ``_otel_guard.telemetry_failed`` and the call goes on, its
result, its errors and its usage untouched. A ``try`` costs nothing until something raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from time import perf_counter, time_ns
from typing import Any, Protocol

from ...domain.errors import LLMPortError
from ...domain.models import EmbeddingResponse, Usage
from .guard import (
    ENDING_SPAN,
    RECORDING,
    STARTING_SPAN,
    SWITCHING_CONTEXT,
    UPDATING_SPAN,
    telemetry_failed,
)

__all__ = ["ATTEMPT", "OtelCallSpan"]

_MetricSets = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


class CallShape(Protocol):
    """What a span needs of ``otel.CallShape`` (typed here so that span.py does not import otel.py)."""

    def metric_sets(self, response_model: str, error_type: str | None) -> _MetricSets: ...


class OpenTelemetry(Protocol):
    """What a span needs of ``otel.OpenTelemetry``: the tracer, the names, the histograms."""

    @property
    def names(self) -> Any: ...
    @property
    def capture_content(self) -> bool: ...
    @property
    def tracer(self) -> Any: ...
    @property
    def h_duration(self) -> Any: ...
    @property
    def h_tokens(self) -> Any: ...
    @property
    def h_ttfc(self) -> Any: ...


ATTEMPT = "llmport.attempt"  # the attempt span's name and the attribute numbering attempts
_REQUEST_ID = "llmport.request_id"
#: The deployment of a routed client that answered (no GenAI convention names one).
_DEPLOYMENT = "llmport.deployment"
_CANCELLED = "llmport.stream.cancelled"


class OtelCallSpan:
    """One logical call: the parent span, its attempts, its metrics."""

    __slots__ = (
        "_context",
        "_ended",
        "_log_fields",
        "_model",
        "_shape",
        "_span",
        "_started",
        "_ttfc",
        "_ttfc_pending",
        "_usage",
        "telemetry",
    )

    def __init__(self, telemetry: OpenTelemetry, span: Any, shape: CallShape) -> None:
        self.telemetry = telemetry
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
        return self.telemetry.capture_content

    @property
    def log_fields(self) -> Mapping[str, str]:
        fields = self._log_fields
        if fields is None:
            fields = {}
            try:
                context = self._span.get_span_context()
                if context.is_valid:
                    fields = {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
            except Exception as exc:
                telemetry_failed(UPDATING_SPAN, exc)
            self._log_fields = fields
        return fields

    def context(self) -> Any:
        """The OpenTelemetry context with this call's span current (built on first use)."""
        if self._context is None:
            self._context = self.telemetry.names.set_span_in_context(self._span)
        return self._context

    def attempt(self, number: int) -> AbstractContextManager[None]:
        # Most calls succeed at once: their one attempt is the call span itself (current while the
        # adapter works, so HTTP spans nest under it), and a child span would only double the cost
        # of tracing. A first attempt that fails gets its child span after the fact, with its real
        # start and end, so a retried call shows every attempt.
        return _Attempt(self, number, eager=number > 1)

    def retry(self, attempt: int, error: LLMPortError, delay: float, reason: str) -> None:
        names = self.telemetry.names
        attributes: dict[str, Any] = {
            ATTEMPT: attempt,
            "llmport.retry.reason": reason,
            "llmport.retry.delay_s": round(delay, 3),
            names.ERROR_TYPE: type(error).__name__,
        }
        if error.request_id:
            attributes[_REQUEST_ID] = error.request_id
        if error.deployment:
            attributes[_DEPLOYMENT] = error.deployment
        try:
            self._span.add_event("llmport.retry", attributes)
        except Exception as exc:
            telemetry_failed(UPDATING_SPAN, exc)

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
        names = self.telemetry.names
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
        self._set(attributes)

    def embedding_reply(self, reply: EmbeddingResponse) -> None:
        names = self.telemetry.names
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
        self._set(attributes)

    def content(self, input_messages: str | None, output_messages: str | None) -> None:
        names = self.telemetry.names
        attributes: dict[str, Any] = {}
        if input_messages is not None:
            attributes[names.INPUT_MESSAGES] = input_messages
        if output_messages is not None:
            attributes[names.OUTPUT_MESSAGES] = output_messages
        if attributes:
            self._set(attributes)

    def _set(self, attributes: dict[str, Any]) -> None:
        try:
            self._span.set_attributes(attributes)
        except Exception as exc:
            telemetry_failed(UPDATING_SPAN, exc)

    def end(self, error: BaseException | None = None, *, cancelled: bool = False) -> None:
        if self._ended:
            return
        self._ended = True
        names = self.telemetry.names
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
            self._set(attributes)
            try:
                self._span.set_status(names.error_status(error_type))
            except Exception as exc:
                telemetry_failed(UPDATING_SPAN, exc)
        elif cancelled or self._ttfc_pending:
            attributes = {_CANCELLED: True} if cancelled else {}
            if self._ttfc_pending:
                attributes[names.TIME_TO_FIRST_CHUNK] = self._ttfc
            self._set(attributes)
        self._ttfc_pending = False
        duration = perf_counter() - self._started
        try:
            self._span.end()  # the application's processors run here (a SimpleSpanProcessor exports)
        except Exception as exc:
            telemetry_failed(ENDING_SPAN, exc)
        self._record(duration, error_type)

    def _record(self, duration: float, error_type: str | None) -> None:
        tel = self.telemetry
        point, input_point, output_point = self._shape.metric_sets(self._model, error_type)
        _record(tel.h_duration, duration, point)
        if self._ttfc is not None:
            _record(tel.h_ttfc, self._ttfc, point)
        if self._usage is not None:
            input_tokens, output_tokens = self._usage
            _record(tel.h_tokens, input_tokens, input_point)
            if output_tokens >= 0:
                _record(tel.h_tokens, output_tokens, output_point)


def _record(histogram: Any, value: float, attributes: dict[str, Any]) -> None:
    try:
        histogram.record(value, attributes)
    except Exception as exc:
        telemetry_failed(RECORDING, exc)


class _Attempt:
    """One attempt, with the call's context current while it runs (HTTP spans nest under it).

    ``eager`` (a retry): a child span of the call, current while the attempt runs. Not ``eager``
    (a first attempt): the call span is current and no span is made while it runs; one is made,
    with the attempt's real start time, only if it fails. Never raises, never swallows: what the
    attempt raises passes through unchanged.
    """

    __slots__ = ("_call", "_eager", "_number", "_span", "_started_ns", "_token")

    def __init__(self, call: OtelCallSpan, number: int, *, eager: bool) -> None:
        self._call = call
        self._number = number
        self._eager = eager
        self._span: Any = None
        self._token: Any = None
        self._started_ns = 0

    def _start(self, start_time: int | None = None) -> Any:
        call = self._call
        try:
            return call.telemetry.tracer.start_span(
                ATTEMPT, context=call.context(), attributes={ATTEMPT: self._number}, start_time=start_time
            )
        except Exception as exc:
            telemetry_failed(STARTING_SPAN, exc)
            return None

    def __enter__(self) -> None:
        call = self._call
        names = call.telemetry.names
        try:
            if not self._eager:
                self._started_ns = time_ns()
                self._token = names.attach(call.context())
                return
            self._span = self._start()
            context = call.context() if self._span is None else names.set_span_in_context(self._span)
            self._token = names.attach(context)
        except Exception as exc:
            telemetry_failed(SWITCHING_CONTEXT, exc)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self._token is not None:
            try:
                self._call.telemetry.names.detach(self._token)
            except Exception as error:
                telemetry_failed(SWITCHING_CONTEXT, error)
        failed = exc is not None and not isinstance(exc, GeneratorExit)
        if not self._eager and failed:
            self._span = self._start(self._started_ns)
        if self._span is not None:
            self._finish(exc if failed else None)

    def _finish(self, exc: BaseException | None) -> None:
        names = self._call.telemetry.names
        span = self._span
        try:
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
        except Exception as error:
            telemetry_failed(UPDATING_SPAN, error)
        try:
            span.end()
        except Exception as error:
            telemetry_failed(ENDING_SPAN, error)
