"""Telemetry that raises never fails a call (issue 19 A): the real OpenTelemetry SDK, broken on purpose.

A span processor that raises in ``on_start`` or ``on_end``, an exemplar filter that makes every
``histogram.record`` raise, a meter provider whose ``get_meter`` raises, a metric exporter that
raises: each time, chat, streams, embeddings and routed calls return what the provider sent, the
usage is counted, nothing is sent twice, and the failure is logged once per process and kind on
the ``llmport`` logger, without the prompt or the key (the exceptions here quote both).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from loopback import LoopbackServer, Reply  # the path is set above
from opentelemetry.sdk.metrics import ExemplarFilter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import Aggregation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from otel_helpers import CHAT_MODEL, EMBEDDING_MODEL, Otel, settings_for, traced_client
from wire_samples import chat_chunks, openai_error

from llmport.services.client import Client
from llmport.settings.model import Settings

PROMPT = "my private question about payroll"
DURATION = "gen_ai.client.operation.duration"
_numbers = itertools.count()


def fresh_error(name: str) -> type[Exception]:
    """An exception class of its own: "logged once per process and kind" starts afresh with it."""
    return type(f"{name}{next(_numbers)}", (RuntimeError,), {})


class BrokenProcessor(SpanProcessor):
    """A span processor that raises, quoting the span's attributes (the prompt, with content on)."""

    def __init__(self, error: type[Exception], *, on_start: bool = False, on_end: bool = False) -> None:
        self.error = error
        self.raise_on_start = on_start
        self.raise_on_end = on_end
        self.raised = 0

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        if self.raise_on_start:
            self.raised += 1
            raise self.error(f"on_start saw {dict(span.attributes or {})}")

    def on_end(self, span: ReadableSpan) -> None:
        if self.raise_on_end:
            self.raised += 1
            raise self.error(f"on_end saw {dict(span.attributes or {})}")


class BrokenExemplarFilter(ExemplarFilter):
    """Asked by the SDK on every ``histogram.record``: so every record raises."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error
        self.raised = 0

    def should_sample(self, value: Any, time_unix_nano: int, attributes: Any, context: Any) -> bool:
        self.raised += 1
        raise self.error(f"record saw {attributes}")


class BrokenAggregation(Aggregation):
    """A metric reader's preferred histogram aggregation that cannot be made: the first record raises."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    def _create_aggregation(self, instrument: Any, attributes: Any, *args: Any, **kwargs: Any) -> Any:
        raise self.error(f"aggregation for {attributes}")


class BrokenMetricExporter(MetricExporter):
    """A metric exporter that raises on every export."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.calls += 1
        raise RuntimeError("the collector is down")

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


@pytest.fixture
def telemetry_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="llmport")
    return caplog


def telemetry_records(caplog: pytest.LogCaptureFixture, error: type[Exception]) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("llmport") and error.__name__ in record.getMessage()
    ]


def chat(client: Client) -> object:
    reply = client.chat(PROMPT)
    assert reply.text == "pong"
    return reply


def stream(client: Client) -> object:
    chunks = list(client.stream(PROMPT))
    assert "".join(chunk.text for chunk in chunks) == "pong"
    assert chunks[-1].usage is not None  # the folded usage arrived with the last chunk
    return chunks


def embed(client: Client) -> object:
    vectors = client.embed(["a", "b"])
    assert len(vectors.vectors) == 2
    return vectors


CALLS: dict[str, Callable[[Client], object]] = {"chat": chat, "stream": stream, "embed": embed}


def routed(east: LoopbackServer, west: LoopbackServer) -> Settings:
    def entry(name: str, server: LoopbackServer, priority: int) -> dict[str, object]:
        return {"name": name, "base_url": f"{server.url}/v1", "api_key": server.api_key, "priority": priority}

    return Settings.from_dict(
        {
            "chat_model": CHAT_MODEL,
            "embedding_model": EMBEDDING_MODEL,
            "deployments": [entry("east", east, 0), entry("west", west, 1)],
        }
    )


def run_calls(client: Client, kind: str, times: int) -> None:
    for _ in range(times):
        CALLS[kind](client)


def assert_counted(client: Client, calls: int, requests: int, servers: Sequence[LoopbackServer]) -> None:
    usage = client.usage
    assert usage.calls == calls
    assert usage.prompt_tokens > 0
    assert sum(server.count for server in servers) == requests  # nothing sent twice


@pytest.mark.parametrize("kind", sorted(CALLS))
@pytest.mark.parametrize("hook", ["on_start", "on_end"])
def test_a_raising_span_processor_fails_no_call_and_the_usage_is_counted(
    server: LoopbackServer, telemetry_log: pytest.LogCaptureFixture, kind: str, hook: str
) -> None:
    error = fresh_error("ProcessorBroke")
    processor = BrokenProcessor(error, **{hook: True})
    otel = Otel(processors=[processor])
    with traced_client(settings_for("openai", server), otel, capture_content=True) as client:
        run_calls(client, kind, 3)
        assert_counted(client, 3, 3, [server])
    assert processor.raised == 3
    assert len(otel.points(DURATION)) == 1 and otel.points(DURATION)[0].count == 3  # metrics go on
    if hook == "on_end":  # the in-memory processor, before the broken one, still exported each span
        assert len(otel.calls()) == 3
    assert len(telemetry_records(telemetry_log, error)) == 1


@pytest.mark.parametrize("kind", sorted(CALLS))
@pytest.mark.parametrize("hook", ["on_start", "on_end"])
def test_a_routed_call_with_a_raising_span_processor_is_served_and_counted(
    telemetry_log: pytest.LogCaptureFixture, kind: str, hook: str
) -> None:
    error = fresh_error("RoutedProcessorBroke")
    processor = BrokenProcessor(error, **{hook: True})
    with (
        LoopbackServer() as east,
        LoopbackServer() as west,
        traced_client(routed(east, west), Otel(processors=[processor])) as client,
    ):
        run_calls(client, kind, 2)
        assert_counted(client, 2, 2, [east, west])
        assert client.usage.by_deployment["east"].calls == 2
    assert processor.raised == 2
    assert len(telemetry_records(telemetry_log, error)) == 1


def test_a_retried_call_under_a_raising_processor_is_sent_once_per_attempt(
    server: LoopbackServer, telemetry_log: pytest.LogCaptureFixture
) -> None:
    # The retry's attempt span is started (on_start raises) and ended (on_end raises) between
    # the two requests: the call still makes exactly its two requests and succeeds.
    error = fresh_error("RetryProcessorBroke")
    processor = BrokenProcessor(error, on_start=True, on_end=True)
    server.script(Reply(503, openai_error("busy", code=None)))
    with traced_client(settings_for("openai", server, max_retries=2), Otel(processors=[processor])) as client:
        chat(client)
        assert_counted(client, 1, 2, [server])


def test_a_stream_under_a_raising_processor_is_read_to_its_end_or_left_cleanly(
    server: LoopbackServer, telemetry_log: pytest.LogCaptureFixture
) -> None:
    error = fresh_error("StreamProcessorBroke")
    processor = BrokenProcessor(error, on_end=True)
    pieces = tuple(f"w{i} " for i in range(20))
    server.script(Reply(events=chat_chunks(pieces, model=CHAT_MODEL)))
    server.script(Reply(events=chat_chunks(pieces, model=CHAT_MODEL)))
    with traced_client(settings_for("openai", server), Otel(processors=[processor])) as client:
        chunks = list(client.stream(PROMPT))
        assert "".join(chunk.text for chunk in chunks) == "".join(pieces)
        assert client.usage.calls == 1 and client.usage.completion_tokens > 0
        # A consumer that leaves early: the span ends (and the processor raises) on close().
        parts = client.stream(PROMPT)
        next(parts)
        parts.close()  # type: ignore[attr-defined]  # a generator
    assert processor.raised == 2


@pytest.mark.parametrize("kind", sorted(CALLS))
def test_a_histogram_whose_record_raises_fails_no_call(
    server: LoopbackServer, telemetry_log: pytest.LogCaptureFixture, kind: str
) -> None:
    error = fresh_error("RecordBroke")
    broken = BrokenExemplarFilter(error)
    otel = Otel(exemplar_filter=broken)
    with traced_client(settings_for("azure", server), otel, capture_content=True) as client:
        run_calls(client, kind, 2)
        assert_counted(client, 2, 2, [server])
    assert broken.raised >= 2
    assert len(otel.calls()) == 2  # the spans ended and were exported as usual
    assert len(telemetry_records(telemetry_log, error)) == 1


def test_a_meter_provider_that_raises_leaves_the_spans_and_the_calls(
    server: LoopbackServer, telemetry_log: pytest.LogCaptureFixture
) -> None:
    error = fresh_error("MeterBroke")

    class BrokenMeterProvider(MeterProvider):
        def get_meter(self, *args: Any, **kwargs: Any) -> Any:
            raise error("no meter today")

    otel = Otel()
    otel.meter_provider = BrokenMeterProvider()
    with traced_client(settings_for("openai", server), otel) as client:
        chat(client)
        stream(client)
        embed(client)
        assert_counted(client, 3, 3, [server])
    assert len(otel.calls()) == 3
    assert len(telemetry_records(telemetry_log, error)) == 1


def test_a_tracer_provider_that_raises_leaves_the_metrics_and_the_calls(
    server: LoopbackServer, telemetry_log: pytest.LogCaptureFixture
) -> None:
    error = fresh_error("TracerBroke")

    class BrokenTracerProvider(TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            raise error("no tracer today")

    otel = Otel()
    otel.tracer_provider = BrokenTracerProvider()
    with traced_client(settings_for("openai", server), otel) as client:
        chat(client)
        stream(client)
        embed(client)
        assert_counted(client, 3, 3, [server])
    assert sum(point.count for point in otel.points(DURATION)) == 3
    assert len(telemetry_records(telemetry_log, error)) == 1


def test_a_metric_reader_that_raises_on_record_fails_no_call(
    server: LoopbackServer, telemetry_log: pytest.LogCaptureFixture
) -> None:
    error = fresh_error("ReaderBroke")
    reader = InMemoryMetricReader(preferred_aggregation={Histogram: BrokenAggregation(error)})
    otel = Otel(readers=[reader])
    with traced_client(settings_for("azure_v1", server), otel) as client:
        chat(client)
        stream(client)
        embed(client)
        assert_counted(client, 3, 3, [server])
    assert len(otel.calls()) == 3
    assert len(telemetry_records(telemetry_log, error)) == 1


def test_a_raising_metric_exporter_fails_no_call(server: LoopbackServer) -> None:
    exporter = BrokenMetricExporter()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    otel = Otel(readers=[reader])
    with traced_client(settings_for("openai", server), otel) as client:
        chat(client)
        otel.meter_provider.force_flush()  # the exporter raises here, in the application's flush
        stream(client)
        embed(client)
        assert_counted(client, 3, 3, [server])
    otel.meter_provider.shutdown()
    assert exporter.calls >= 1


def test_telemetry_failures_are_logged_once_per_kind_without_the_prompt_or_the_key(
    server: LoopbackServer, telemetry_log: pytest.LogCaptureFixture
) -> None:
    span_error = fresh_error("QuotingProcessorBroke")
    record_error = fresh_error("QuotingRecordBroke")
    processor = BrokenProcessor(span_error, on_end=True)
    otel = Otel(processors=[processor], exemplar_filter=BrokenExemplarFilter(record_error))
    with traced_client(settings_for("openai", server), otel, capture_content=True) as client:
        for _ in range(5):
            chat(client)
            stream(client)
    assert processor.raised == 10
    span_records = telemetry_records(telemetry_log, span_error)
    record_records = telemetry_records(telemetry_log, record_error)
    assert len(span_records) == 1 and len(record_records) == 1
    for record in span_records + record_records:
        text = record.getMessage()
        assert PROMPT not in text and server.api_key not in text
        assert "payroll" not in text and "saw" not in text  # not the exception's message at all
        assert record.exc_info is None  # a traceback would print the message
        assert record.levelno == logging.WARNING
    assert "ending a span" in span_records[0].getMessage()
    assert "recording a metric" in record_records[0].getMessage()
