"""The OpenTelemetry adapter through ChatService and the fakes: current spans, caches, streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmport.adapters.fakes import FakeChat
from llmport.adapters.telemetry import otel as telemetry_module
from llmport.adapters.telemetry.otel import OpenTelemetry
from llmport.domain.errors import ServiceUnavailableError
from llmport.domain.models import ChatChunk, ChatRequest, ChatResponse, Message
from llmport.services.chat import ChatService
from llmport.services.retry import Retrier, RetryPolicy

if TYPE_CHECKING:
    from clock import FakeClock


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.telemetry = OpenTelemetry(
            provider="openai",
            server_address="example.test",
            server_port=8443,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
        )

    def calls(self) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name != "llmport.attempt"]

    def attempts(self) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == "llmport.attempt"]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        return [
            point
            for resource in (data.resource_metrics if data else ())
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


class WatchingChat:
    """A ChatPort that notes the current span each time the service asks it for something."""

    def __init__(self, inner: FakeChat) -> None:
        self.inner = inner
        self.current: list[Any] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.current.append(trace.get_current_span())
        return self.inner.complete(request)

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        self.current.append(trace.get_current_span())
        return self.inner.stream(request)


@pytest.fixture
def otel() -> Otel:
    return Otel()


def service(chat: object, clock: FakeClock, otel: Otel) -> ChatService:
    retrier = Retrier(RetryPolicy(max_retries=2), sleep=clock.sleep, clock=clock, rand=lambda: 0.5)
    return ChatService(
        chat,  # type: ignore[arg-type]
        provider="openai",
        model="gpt-test",
        retrier=retrier,
        telemetry=otel.telemetry,
    )


def unavailable() -> ServiceUnavailableError:
    return ServiceUnavailableError("down", provider="fake", status_code=503)


def test_the_call_span_is_current_while_a_first_attempt_runs(clock: FakeClock, otel: Otel) -> None:
    chat = WatchingChat(FakeChat())
    service(chat, clock, otel).complete(ChatRequest((Message.user("hi"),)))

    [call] = otel.calls()
    [current] = chat.current
    assert current.get_span_context().span_id == call.context.span_id  # HTTP spans nest under the call
    assert otel.attempts() == []
    assert trace.get_current_span() is trace.INVALID_SPAN  # and it is no longer current afterwards


def test_a_retry_runs_under_its_attempt_span(clock: FakeClock, otel: Otel) -> None:
    chat = WatchingChat(FakeChat(unavailable()))
    service(chat, clock, otel).complete(ChatRequest((Message.user("hi"),)))

    [call] = otel.calls()
    first, second = sorted(otel.attempts(), key=lambda span: span.start_time or 0)
    current = [span.get_span_context().span_id for span in chat.current]
    assert current == [call.context.span_id, second.context.span_id]
    assert first.parent is not None and first.parent.span_id == call.context.span_id
    assert first.attributes is not None and first.attributes["error.type"] == "ServiceUnavailableError"
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_a_stream_is_opened_under_the_call_span_and_records_its_first_chunk_once(
    clock: FakeClock, otel: Otel
) -> None:
    chat = WatchingChat(FakeChat())
    chunks = list(service(chat, clock, otel).stream(ChatRequest((Message.user("hi there"),))))

    assert len(chunks) > 1
    [call] = otel.calls()
    assert chat.current[0].get_span_context().span_id == call.context.span_id
    attrs = dict(call.attributes or {})
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0
    [ttfc] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1


def test_kept_attributes_are_never_changed_by_a_call(clock: FakeClock, otel: Otel) -> None:
    chat_service = service(FakeChat(), clock, otel)
    chat_service.complete(ChatRequest((Message.user("hi"),), temperature=0.2, max_tokens=5))
    chat_service.complete(ChatRequest((Message.user("hi"),)))
    chat_service.complete(ChatRequest((Message.user("hi"),), model="gpt-other"))

    warm, plain, other = otel.calls()
    assert dict(warm.attributes or {})["gen_ai.request.temperature"] == 0.2
    assert dict(warm.attributes or {})["gen_ai.request.max_tokens"] == 5
    assert not {"gen_ai.request.temperature", "gen_ai.request.max_tokens"} & set(plain.attributes or {})
    assert other.name == "chat gpt-other"
    assert dict(other.attributes or {})["gen_ai.request.model"] == "gpt-other"
    durations = otel.points("gen_ai.client.operation.duration")
    assert sorted(p.attributes["gen_ai.response.model"] for p in durations) == ["gpt-other", "gpt-test"]
    [test_point] = [p for p in durations if p.attributes["gen_ai.response.model"] == "gpt-test"]
    assert test_point.count == 2
    assert dict(test_point.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-test",
        "server.address": "example.test",
        "server.port": 8443,
    }


def test_errors_get_their_own_metric_points(clock: FakeClock, otel: Otel) -> None:
    chat_service = service(FakeChat(unavailable(), unavailable(), unavailable()), clock, otel)
    with pytest.raises(ServiceUnavailableError):
        chat_service.complete(ChatRequest((Message.user("hi"),)))
    chat_service.complete(ChatRequest((Message.user("hi"),)))

    durations = otel.points("gen_ai.client.operation.duration")
    errors = {p.attributes.get("error.type"): p.count for p in durations}
    assert errors == {"ServiceUnavailableError": 1, None: 1}
    assert len(otel.points("gen_ai.client.token.usage")) == 2  # input and output of the call that succeeded


def test_past_the_cache_limit_calls_are_still_recorded_in_full(
    clock: FakeClock, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry_module, "_CACHE_LIMIT", 2)
    chat_service = service(FakeChat(), clock, otel)
    for model in ("m1", "m2", "m3", "m4", "m3"):
        chat_service.complete(ChatRequest((Message.user("hi"),), model=model))

    assert [span.name for span in otel.calls()] == ["chat m1", "chat m2", "chat m3", "chat m4", "chat m3"]
    durations = otel.points("gen_ai.client.operation.duration")
    counts = {p.attributes["gen_ai.request.model"]: p.count for p in durations}
    assert counts == {"m1": 1, "m2": 1, "m3": 2, "m4": 1}
    assert len(otel.telemetry._shapes) == 2
